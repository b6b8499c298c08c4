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
    assert call("xml_count", ["<reasoning>\nonly"], n_format="xml") == [0.0]  # no answer
    assert call("xml_count", ["<reasoning>\nx\n<answer>4</answer>"], n_format="xml") == [0.75]
    assert call(
        "xml_count", ["= 4\n</think>\n<answer>\n\\boxed{4}\n</answer>"], prompts=[SCAFFOLD_PROMPT]
    ) == [1.0]
    repetition = build_reward("repetition_penalty", ngram_size=2, max_penalty=-1.0)
    assert repetition(["a b c d", "a b a b a b", "a"]) == [0.0, pytest.approx(-0.6), 0.0]


def test_arithmetic_reward_checks_each_written_calculation():
    arithmetic = build_reward("arithmetic")
    chain = "D=1*3-3*3=3-9=-6\nN=2*5=10\ny=-12/-6=3"  # three right, one wrong: (3 - 1) / 4
    sentence = "She sold 48/2 = 24 clips. Then 48+24 = 72. So 2x = 4, and 10 = 9."
    assert arithmetic([chain, sentence, conv("no numbers"), "1/0 = 3 and 2**99 = 1"]) == [
        0.5,
        1.0,  # `10 = 9` compares two numbers: no calculation, neither right nor wrong
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


# ---- hacking each reward: it pays only for what it names ----

EMPTY_XML = "<reasoning>\n\n</reasoning>\n<answer>\n\n</answer>"
HACKS = {  # replies with no answer (or none of the gold's kind), in every format's tags
    "empty": "",
    "banana": "banana",
    "empty box": "<answer>\\boxed{}</answer>",
    "r1, empty box": "<think>\nhm\n</think>\n<answer>\n\\boxed{}\n</answer>",
    "xml, empty": EMPTY_XML,
    "xml, banana": EMPTY_XML.replace("\n\n</answer>", "\nbanana\n</answer>"),
    "special, banana": "<start_working_out>x<end_working_out><SOLUTION>banana</SOLUTION>",
    "abstain": "<think>\nhm\n</think>\n<answer>\n\\boxed{I don't know}\n</answer>",
    "boxed, empty": "So the answer is $\\boxed{}$.",
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("hack", sorted(HACKS))
def test_format_rewards_pay_nothing_without_an_answer(fmt, hack):
    text = HACKS[hack]
    for name, params in [("format", {"mode": "strict"}), ("format", {"mode": "soft"})]:
        assert call(name, [text], n_format=fmt, **params) == [0.0], (name, params)
    assert call("xml_count", [text], n_format=fmt) == [0.0]
    assert call("correctness", [text], n_format=fmt) == [0.0]
    assert call("hierarchical", [text], n_format=fmt) == [-1.0]


def test_spark_reward_mix_pays_an_empty_reply_nothing():
    """SPARK's weights (correctness 2, strict 0.5, soft 0.5, xml_count 0.5): an unanswered reply
    in perfect tags earns 0 of 3.5, a wrong answer only its format credit, a right one all."""
    weights = {"correctness": 2.0, "format_strict": 0.5, "format_soft": 0.5, "xml_count": 0.5}

    def total(text: str) -> float:
        parts = {
            "correctness": call("correctness", [text], n_format="xml"),
            "format_strict": call("format", [text], n_format="xml", mode="strict"),
            "format_soft": call("format", [text], n_format="xml", mode="soft"),
            "xml_count": call("xml_count", [text], n_format="xml"),
        }
        return sum(weights[k] * v[0] for k, v in parts.items())

    assert total(EMPTY_XML) == 0.0 and total(HACKS["xml, banana"]) == 0.0
    assert total(XML_GOOD.replace("4\n</answer>", "5\n</answer>")) == pytest.approx(1.5)
    assert total(XML_GOOD) == pytest.approx(3.5)


def test_word_answers_earn_format_credit_where_the_gold_is_words():
    reply = "<reasoning>\nnorth\n</reasoning>\n<answer>\neast\n</answer>"
    reward = build_reward("format", mode="strict")
    assert reward([reply], answer=["east"], task=["math"], answer_format=["xml"]) == [1.0]
    assert reward([reply], answer=["4"], task=["math"], answer_format=["xml"]) == [0.0]


def test_arithmetic_cannot_be_raised_by_trivial_repeated_or_fewer_steps():
    arithmetic = build_reward("arithmetic")
    honest = "2*3=6\n6+1=7\n7*2=14"
    assert arithmetic(["1=1", "1=1\n2=2\n4=4.0", "4*1=4\n0*9=0\n5+0=5\n8/1=8"]) == [0.0] * 3
    assert arithmetic(["2*3 = 2*3"]) == [0.0]  # the same text on both sides
    assert arithmetic(["2*3=6\n" * 10]) == arithmetic(["2*3=6"]) == [1.0]  # counted once
    steps = [3] * 4
    scores = arithmetic(
        [honest, "2*3=6\n6+1=7", "2*3=6", "2*3=6\n" * 9 + "1=1\n" * 9], reference_steps=steps
    )
    assert scores == [1.0, pytest.approx(2 / 3), pytest.approx(1 / 3), pytest.approx(1 / 3)]
    wrong = arithmetic([honest + "\n7*2=15", "2*3=7"], reference_steps=[3, 3])
    assert wrong == [pytest.approx(2 / 4), 0.0]  # a wrong step costs a right one
    assert arithmetic(["2*3=6"], min_steps=2) == [0.5]


def test_repeated_lines_cost_under_the_repetition_penalty():
    penalty = build_reward("repetition_penalty", ngram_size=3, max_penalty=-1.0)
    once, repeated = "We add two and three to get five.", "\n".join(["x = 1 + 1"] * 10)
    assert penalty([once]) == [0.0] and penalty([repeated])[0] < -0.5
