"""Facts for the reference `knowledge` annotations: each fact is given to a problem when its
trigger matches the problem or its reference solution (the solution shows what the proof uses).

The statements are ours, general, and carry no problem's numbers; a fact that would still state
a problem's answer is left out for that problem (see `reference.knowledge`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Fact:
    name: str
    trigger: re.Pattern[str]
    statement: str


def _fact(name: str, trigger: str, statement: str) -> Fact:
    return Fact(name, re.compile(trigger), statement)


FACTS: tuple[Fact, ...] = (
    _fact(
        "percent",
        r"\d\s*\\?%|percent",
        "p% of a quantity Q is (p/100)·Q; raising Q by p% gives Q·(1 + p/100), lowering it by p% "
        "gives Q·(1 − p/100).",
    ),
    _fact("average", r"\baverage\b|\bmean\b", "The average of n values is their sum divided by n."),
    _fact(
        "speed",
        r"\bspeed\b|\bmph\b|miles per hour|km/h|kilometers per hour",
        "Distance = speed × time, so time = distance ÷ speed and speed = distance ÷ time.",
    ),
    _fact(
        "time units",
        r"\bminutes?\b[^.]*\bhours?\b|\bhours?\b[^.]*\bminutes?\b",
        "An hour has 60 minutes and a minute 60 seconds; a day has 24 hours, a week 7 days.",
    ),
    _fact(
        "calendar", r"\byears?\b[^.]*\b(?:months?|weeks?)\b", "A year has 12 months or 52 weeks."
    ),
    _fact("dozen", r"\bdozens?\b", "A dozen is twelve items."),
    _fact("profit", r"\bprofit\b", "Profit = money received − money spent."),
    _fact(
        "discount",
        r"\bdiscount|% off\b|\bsale price\b",
        "A discount of p% on a price P leaves P·(1 − p/100) to pay.",
    ),
    _fact(
        "unit price",
        r"\beach\b[^.]*\$|\$[^.]*\beach\b|\bper (?:pound|item|piece|kilogram|gallon)\b",
        "Total cost = price of one unit × number of units.",
    ),
    _fact(
        "wage", r"\bper hour\b|\bhourly\b|\ban hour\b", "Earnings = pay per hour × hours worked."
    ),
    _fact(
        "interest",
        r"\binterest\b",
        "Simple interest on an amount P at rate r per period for t periods is P·r·t.",
    ),
    _fact(
        "fraction of",
        r"\bhalf\b|\ba third\b|\bquarter\b|\bfraction\b",
        "A fraction a/b of a quantity Q is Q·a/b: half of Q is Q/2, a quarter is Q/4.",
    ),
    _fact(
        "rectangle",
        r"\brectangle|\brectangular (?:garden|room|field|plot)|\bsquare (?:feet|meters|units)\b",
        "A rectangle's area is length × width and its perimeter 2·(length + width).",
    ),
    _fact(
        "pythagoras",
        r"pythag|right triangle|hypotenuse|\bleg\b",
        "In a right triangle with legs a, b and hypotenuse c, a² + b² = c².",
    ),
    _fact(
        "distance formula",
        r"distance between|\\sqrt\{\s*\(.{1,20}\)\^2\s*\+\s*\(",
        "The distance between (x₁, y₁) and (x₂, y₂) is √((x₂ − x₁)² + (y₂ − y₁)²).",
    ),
    _fact(
        "midpoint",
        r"\bmidpoint\b",
        "The midpoint of (x₁, y₁) and (x₂, y₂) is ((x₁ + x₂)/2, (y₁ + y₂)/2).",
    ),
    _fact(
        "slope",
        r"\bslope\b",
        "The line through (x₁, y₁) and (x₂, y₂) has slope (y₂ − y₁)/(x₂ − x₁); parallel lines have "
        "equal slopes and perpendicular lines slopes whose product is −1.",
    ),
    _fact(
        "quadratic formula",
        r"quadratic formula|discriminant|b\^2\s*-\s*4\s*ac",
        "ax² + bx + c = 0 has the roots (−b ± √(b² − 4ac))/(2a); they are real exactly when the "
        "discriminant b² − 4ac is not negative.",
    ),
    _fact(
        "vieta",
        r"vieta|sum of the roots|product of the roots",
        "Vieta: the roots of ax² + bx + c = 0 sum to −b/a and multiply to c/a; for higher degrees "
        "the elementary symmetric sums of the roots are ± ratios of coefficients.",
    ),
    _fact(
        "difference of squares",
        r"difference of (?:two )?squares",
        "a² − b² = (a − b)(a + b).",
    ),
    _fact(
        "arithmetic sequence",
        r"arithmetic (?:sequence|series|progression)|common difference",
        "An arithmetic sequence has aₙ = a₁ + (n − 1)d; its first n terms sum to n(a₁ + aₙ)/2.",
    ),
    _fact(
        "geometric sequence",
        r"geometric (?:sequence|series|progression)|common ratio",
        "A geometric sequence has aₙ = a₁rⁿ⁻¹; its first n terms sum to a₁(1 − rⁿ)/(1 − r), and "
        "the infinite series to a₁/(1 − r) when |r| < 1.",
    ),
    _fact(
        "binomial coefficients",
        r"\\binom|\\dbinom|\\choose|\bcombinations?\b|\bcommittee\b",
        "k items can be chosen from n in C(n, k) = n!/(k!(n − k)!) ways.",
    ),
    _fact(
        "arrangements",
        r"\bfactorial\b|\bpermutations?\b|\barrange",
        "n distinct items can be ordered in n! = n·(n − 1)·…·1 ways.",
    ),
    _fact(
        "probability",
        r"\bprobability\b",
        "With equally likely outcomes, probability = favourable outcomes ÷ all outcomes, and "
        "P(not A) = 1 − P(A).",
    ),
    _fact(
        "congruences",
        r"\\pmod|\\equiv|\bremainder when\b|\bmodulo\b",
        "a ≡ b (mod m) means m divides a − b; congruences can be added and multiplied.",
    ),
    _fact(
        "gcd and lcm",
        r"\\gcd|greatest common (?:divisor|factor)|least common multiple|\blcm\b",
        "gcd(a, b)·lcm(a, b) = a·b; the gcd takes each common prime to its smaller exponent, the "
        "lcm each prime to its larger one.",
    ),
    _fact(
        "divisor count",
        r"number of (?:positive )?(?:divisors|factors)|prime factori[sz]",
        "If n = p₁^e₁·…·pₖ^eₖ (distinct primes pᵢ), n has (e₁ + 1)·…·(eₖ + 1) positive divisors.",
    ),
    _fact(
        "logarithms",
        r"\\log|\\ln\b|logarithm",
        "log_b(xy) = log_b x + log_b y, log_b(xᵏ) = k·log_b x, and log_b x = ln x / ln b.",
    ),
    _fact(
        "trigonometry",
        r"\\sin|\\cos|\\tan",
        "sin²θ + cos²θ = 1, tan θ = sin θ / cos θ, sin 2θ = 2 sin θ cos θ and "
        "cos 2θ = cos²θ − sin²θ.",
    ),
    _fact(
        "polar coordinates",
        r"\bpolar\b|rectangular coordinates",
        "The point (x, y) has polar coordinates (r, θ): r = √(x² + y²), x = r cos θ, y = r sin θ.",
    ),
    _fact(
        "complex numbers",
        r"complex number|\bi\^2\b|\\overline\{z\}|\bimaginary\b",
        "i² = −1; a + bi has modulus √(a² + b²) and conjugate a − bi.",
    ),
    _fact(
        "circle",
        r"\bcircles?\b|\bradius\b|\bdiameter\b|\bcircumference\b",
        "A circle of radius r has area πr² and circumference 2πr.",
    ),
    _fact(
        "triangle area",
        r"area of (?:the |a )?(?:triangle|\\triangle)|triangle[^.]{0,40}\barea\b",
        "A triangle's area is ½·base·height, also ½·a·b·sin C for two sides and their angle.",
    ),
    _fact(
        "polygon angles",
        r"interior angles?|sum of the (?:interior )?angles|regular polygon|\bhexagon\b|\boctagon\b",
        "The interior angles of an n-sided polygon sum to (n − 2)·180°.",
    ),
    _fact(
        "absolute value",
        r"absolute value|\|x\s*[-+]",
        "|a| = a for a ≥ 0 and −a for a < 0; |x − c| < r means c − r < x < c + r.",
    ),
    _fact(
        "number bases",
        r"\bbase[ -](?:\d|ten|two|eight|sixteen)|_\{?(?:2|8|16)\}?\b",
        "A numeral dₖ…d₁d₀ in base b stands for dₖ·bᵏ + … + d₁·b + d₀.",
    ),
    _fact(
        "determinants",
        r"\bdeterminant\b|\\begin\{vmatrix\}|\\det\b",
        "The 2×2 matrix with rows (a, b) and (c, d) has determinant ad − bc; a square matrix is "
        "invertible exactly when its determinant is not 0.",
    ),
    _fact(
        "dot product",
        r"dot product|orthogonal|\bperpendicular vectors?\b",
        "u·v = |u||v| cos θ, so vectors are orthogonal exactly when their dot product is 0.",
    ),
    _fact(
        "am-gm",
        r"am-gm|arithmetic mean[^.]*geometric mean",
        "AM–GM: for non-negative a and b, (a + b)/2 ≥ √(ab), with equality only when a = b.",
    ),
    _fact(
        "floor and ceiling",
        r"\\lfloor|\\lceil|\bfloor\b",
        "⌊x⌋ is the greatest integer not above x and ⌈x⌉ the least integer not below x.",
    ),
    _fact(
        "similarity",
        r"\bsimilar (?:triangles|figures)\b|\bare similar\b",
        "Similar figures have proportional lengths; their areas scale with the square of the "
        "ratio and volumes with its cube.",
    ),
    _fact(
        "volume",
        r"\bvolume\b",
        "Volumes: box l·w·h, cylinder πr²h, cone πr²h/3, sphere 4πr³/3.",
    ),
    _fact(
        "inclusion-exclusion",
        r"inclusion-exclusion|\bneither\b",
        "|A ∪ B| = |A| + |B| − |A ∩ B|.",
    ),
    _fact(
        "inverse functions",
        r"f\^\{-1\}|inverse function|\binverse of\b",
        "If f(a) = b then f⁻¹(b) = a; to find f⁻¹, solve y = f(x) for x.",
    ),
    _fact(
        "composition",
        r"[fgh]\([fgh]\(",
        "(f ∘ g)(x) = f(g(x)): apply g first, then f.",
    ),
)


def facts_for(text: str) -> list[Fact]:
    """The facts whose trigger (written in lower case) occurs in `text`, in glossary order."""
    text = text.lower()
    return [fact for fact in FACTS if fact.trigger.search(text)]
