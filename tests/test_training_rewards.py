"""Answer formats and reward functions (no model needed)."""

from __future__ import annotations

import pickle

import pytest

from spark_math.training.formats import FORMATS, get_format, scaffolded
from spark_math.training.rewards import REWARDS, build_reward, completion_text

R1_GOOD = "<think>\n2 + 2 = 4\n</think>\n<answer>\n\\boxed{4}\n</answer>"
XML_GOOD = "<reasoning>\n2 + 2 = 4\n</reasoning>\n<answer>\n4\n</answer>\n"
ST_GOOD = "<start_working_out>2 + 2 = 4<end_working_out><SOLUTION>4</SOLUTION>"
SCAFFOLD_PROMPT = [
    {"role": "user", "content": "What is 2 + 2?"},
    {"role": "assistant", "content": "<think>\nTwo plus two\n"},
]
PLAIN_PROMPT = [{"role": "user", "content": "What is 2 + 2?"}]


def conv(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def call(name: str, completions, n_format: str = "r1", prompts=None, **params):
    """Call a reward as TRL does: dataset columns as keyword lists."""
    n = len(completions)
    return build_reward(name, **params)(
        completions,
        prompts=prompts or [PLAIN_PROMPT] * n,
        answer=["4"] * n,
        task=["math"] * n,
        answer_format=[n_format] * n,
    )


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_writes_what_it_checks_and_the_grader_reads(name):
    from spark_math.grading import grade

    fmt = get_format(name)
    text = fmt.completion("2 + 2 = 4", "4")
    assert fmt.is_strict(text) and fmt.is_soft(text)
    assert grade(text, "4").correct
    assert not fmt.is_strict("The answer is 4.")


def test_format_checks_by_name():
    assert FORMATS["r1"].is_strict(R1_GOOD)
    assert FORMATS["xml"].is_strict(XML_GOOD)
    assert FORMATS["special-tokens"].is_strict(ST_GOOD)
    twice = R1_GOOD + "\n<answer>\n\\boxed{5}\n</answer>"
    assert not FORMATS["r1"].is_strict(twice)
    assert not FORMATS["r1"].is_strict("<answer>\n\\boxed{4}\n</answer><think>x</think>")
    unboxed = "<think>\nok\n</think>\n<answer>\n4\n</answer>"
    assert not FORMATS["r1"].is_strict(unboxed) and not FORMATS["r1"].is_soft(unboxed)
    loose = "Sure. <think>ok</think> then <answer>\\boxed{4}</answer> bye"
    assert FORMATS["r1"].is_soft(loose) and not FORMATS["r1"].is_strict(loose)
    with pytest.raises(ValueError, match="known"):
        get_format("yaml")


def test_scaffold_detection_and_prompt():
    r1 = FORMATS["r1"]
    prompt = r1.prompt("What is 2 + 2?", system="Be brief.", scaffold="Two plus two")
    assert [m["role"] for m in prompt] == ["system", "user", "assistant"]
    assert prompt[-1]["content"] == "<think>\nTwo plus two\n"
    assert scaffolded(prompt, r1) and scaffolded("User: q Assistant: <think>\nstep", r1)
    assert not scaffolded(PLAIN_PROMPT, r1)
    assert not scaffolded("<think>a</think> answer", r1)
    assert not scaffolded(prompt, FORMATS["boxed"])


def test_format_reward_is_scaffold_aware():
    closing_only = "= 4\n</think>\n<answer>\n\\boxed{4}\n</answer>"
    assert call("format", [closing_only], prompts=[SCAFFOLD_PROMPT], mode="strict") == [1.0]
    assert call("format", [closing_only], mode="strict") == [0.0]  # unscaffolded: needs <think>
    reopened = "<think>\n" + closing_only
    assert call("format", [reopened], prompts=[SCAFFOLD_PROMPT], mode="strict") == [0.0]
    assert call("format", [R1_GOOD, "4"], mode="soft") == [1.0, 0.0]
    with pytest.raises(ValueError, match="strict"):
        call("format", [R1_GOOD], mode="lenient")


def test_correctness_uses_the_grader_on_plain_and_conversational_completions():
    completions = [R1_GOOD, conv(R1_GOOD), "\\boxed{5}", conv("<think>4"), "four is \\boxed{4.0}"]
    assert call("correctness", completions) == [1.0, 1.0, 0.0, 0.0, 1.0]
    assert completion_text(conv("a") + conv("b")) == "ab"


def test_hierarchical_reward_levels_and_abstention():
    well_formed, malformed = R1_GOOD, "so \\boxed{4}"
    wrong, abstain = R1_GOOD.replace("{4}", "{5}"), "<answer>I don't know</answer>"
    assert call("hierarchical", [well_formed, malformed, wrong, abstain, ""]) == [
        2.0,
        1.0,
        -1.0,
        -1.0,  # an abstention is wrong by default (SPARKLE gave 0, paying the model to abstain)
        -1.0,
    ]
    assert call("hierarchical", [abstain, wrong], abstain=0.0) == [0.0, -1.0]
    scaffolded_ok = "= 4\n</think>\n<answer>\n\\boxed{4}\n</answer>"
    assert call("hierarchical", [scaffolded_ok], prompts=[SCAFFOLD_PROMPT]) == [2.0]


def test_length_rewards():
    target = build_reward("length", mode="target", target=10)
    assert target(["x"] * 3, completion_ids=[[0] * 10, [0] * 5, [0] * 30]) == [1.0, 0.5, 0.0]
    assert target(["abcde"]) == [0.5]  # characters without completion_ids
    chars = build_reward("length", mode="target", target=10, unit="chars")
    assert chars(["abcde"], completion_ids=[[0] * 10]) == [0.5]
    with pytest.raises(ValueError, match="unit"):
        build_reward("length", unit="words")(["x"])
    cosine = build_reward("length", mode="cosine", max_length=100)
    scores = cosine(
        ["\\boxed{4}", "\\boxed{4}", "\\boxed{5}", "\\boxed{5}"],
        answer=["4"] * 4,
        completion_ids=[[0], [0] * 100, [0], [0] * 100],
    )
    assert scores[0] == pytest.approx(1.0, abs=1e-3) and scores[1] == pytest.approx(0.5)
    assert scores[2] == pytest.approx(-1.0, abs=1e-3) and scores[3] == pytest.approx(-0.5)
    with pytest.raises(ValueError, match="answer"):
        cosine(["x"])


def test_xml_count_and_repetition_penalty():
    assert call("xml_count", [XML_GOOD], n_format="xml") == [1.0]
    assert call("xml_count", [XML_GOOD + "trailing"], n_format="xml") == [pytest.approx(0.992)]
    assert call("xml_count", ["<reasoning>\nonly"], n_format="xml") == [0.25]
    assert call(
        "xml_count", ["= 4\n</think>\n<answer>\n\\boxed{4}\n</answer>"], prompts=[SCAFFOLD_PROMPT]
    ) == [1.0]
    repetition = build_reward("repetition_penalty", ngram_size=2, max_penalty=-1.0)
    assert repetition(["a b c d", "a b a b a b", "a"]) == [0.0, pytest.approx(-0.6), 0.0]


def test_arithmetic_reward_checks_each_written_calculation():
    arithmetic = build_reward("arithmetic")
    chain = "D=1*3-3*3=3-9=-6\nN=2*5=10\ny=-12/-6=3"  # three right, one wrong
    sentence = "She sold 48/2 = 24 clips. Then 48+24 = 72. So 2x = 4, and 10 = 9."
    assert arithmetic([chain, sentence, conv("no numbers"), "1/0 = 3 and 2**99 = 1"]) == [
        0.75,
        pytest.approx(2 / 3),
        0.0,
        0.0,
    ]


def test_registry_names_and_pickling():
    assert set(REWARDS) == {
        "arithmetic",
        "correctness",
        "format",
        "hierarchical",
        "length",
        "xml_count",
        "repetition_penalty",
    }
    assert build_reward("format", mode="soft").__name__ == "format_soft"
    assert build_reward("correctness").__name__ == "correctness"
    clone = pickle.loads(pickle.dumps(build_reward("length", mode="target", target=3)))
    assert clone(["abc"]) == [1.0]
    with pytest.raises(ValueError, match="unknown reward"):
        build_reward("vibes")
    with pytest.raises(ValueError, match="answer_format"):
        build_reward("format")(["x"])
