"""BI-RADS ultrasound lexicon (margin, shape, orientation, echo, posterior, boundary) with
negation handling, as polars expressions over exploded clauses.

A text is cut into clauses at sentence ends (``. ; ! ?``, newline) and at contrast words (but,
however, although, though, whereas, except). Inside a clause a term is **negated** when a
pre-cue (no, not, without, absent, negative for, free of, rather than, instead of, neither,
nor) stands at most 150 characters before it, or a post-cue (is not seen, not identified, has
resolved, no longer seen, is absent) at most 150 characters after it. A feature value counts
when at least one clause holds it non-negated.

Priority rules, after collection:

- margin: any non-circumscribed value (indistinct, angular, microlobulated, spiculated, "not
  circumscribed") removes ``circumscribed``; a specific one removes the generic
  ``not circumscribed``;
- echo: ``complex cystic and solid`` beats ``heterogeneous``, which beats the basic values
  (anechoic, hyperechoic, hypoechoic, isoechoic); two or more basic values become
  ``heterogeneous``;
- orientation: ``not parallel`` beats ``parallel``.

Several remaining values are comma-joined in lexicon order. ``lexicon_negated`` lists the
``feature:value`` pairs that were seen only in negated form (the per-row decision audit).
"""

from __future__ import annotations

import polars as pl

FEATURES: tuple[str, ...] = ("margin", "shape", "orientation", "echo", "posterior", "boundary")

#: (feature, value, pattern) in output order; patterns are case-insensitive
TERMS: tuple[tuple[str, str, str], ...] = (
    (
        "margin",
        "circumscribed",
        r"(?:^|[^-\w])(?:circumscribed|well[ -]defined|well[ -]circumscribed|smooth(?:ly)? marginated|smooth margins?)\b",
    ),
    ("margin", "not circumscribed", r"\b(?:not|non)[ -]?circumscribed\b"),
    ("margin", "indistinct", r"\b(?:indistinct|ill[ -]defined|poorly[ -]defined)\b"),
    ("margin", "angular", r"\bangular\b"),
    ("margin", "microlobulated", r"\bmicro-?lobulat(?:ed|ion|ions)\b"),
    ("margin", "spiculated", r"\bspiculat(?:ed|ion|ions)\b"),
    ("shape", "oval", r"\b(?:oval|ovoid|elliptical)\b"),
    ("shape", "round", r"\bround(?:ed)?\b"),
    ("shape", "irregular", r"\birregular(?:ly)?(?: shaped)?\b"),
    ("orientation", "parallel", r"\b(?:parallel|wider[ -]than[ -]tall|horizontally oriented)\b"),
    (
        "orientation",
        "not parallel",
        r"\b(?:not[ -]parallel|non-?parallel|anti-?parallel|taller[ -]than[ -]wide|vertically oriented)\b",
    ),
    ("echo", "anechoic", r"\banechoic\b"),
    ("echo", "hyperechoic", r"\bhyperechoic\b"),
    (
        "echo",
        "complex cystic and solid",
        r"\b(?:complex cystic(?: and |/| & )solid|mixed cystic(?: and |/)solid|cystic and solid|complex cyst)\b",
    ),
    ("echo", "hypoechoic", r"\bhypoechoic\b"),
    ("echo", "isoechoic", r"\bisoechoic\b"),
    ("echo", "heterogeneous", r"\bheterogene(?:ous|ously)\b"),
    (
        "posterior",
        "no posterior features",
        r"\bno posterior (?:acoustic )?(?:features|enhancement or shadowing|phenomena)\b",
    ),
    (
        "posterior",
        "enhancement",
        r"\b(?:(?:posterior )?(?:acoustic )?enhancement|increased through[ -]transmission)\b",
    ),
    ("posterior", "shadowing", r"\bshadow(?:ing|s)?\b"),
    ("posterior", "combined pattern", r"\bcombined (?:posterior )?pattern\b"),
    ("boundary", "abrupt interface", r"\babrupt(?: interface)?\b"),
    ("boundary", "echogenic halo", r"\becho(?:genic)? halo\b"),
)

#: values that are themselves negative phrases and so are never negated
_NOT_NEGATABLE = {"not circumscribed", "not parallel", "no posterior features"}
_PRE_CUES = r"\b(?:no|not|without|absent|negative for|free of|rather than|instead of|neither|nor)\b"
_POST_CUES = (
    r"\b(?:(?:is|are) not (?:seen|identified|visualized|present)|not (?:seen|identified|visualized)"
    r"|(?:has|have) resolved|resolved|no longer (?:seen|visualized|present|identified)|(?:is|are) absent)\b"
)
_CLAUSE = r"[^.;!?\n]+"
#: negative-sounding values, glued into one token before negation cues are looked for
_NEGATIVE_VALUES = (
    r"\b(not|non|anti|no)[ -]?(parallel|circumscribed|posterior (?:acoustic )?features)\b"
)
_CONTRAST = r"(?i)\b(?:but|however|although|though|whereas|except)\b"

_MARGIN_SPECIFIC = ("indistinct", "angular", "microlobulated", "spiculated")
_ECHO_BASIC = ("anechoic", "hyperechoic", "hypoechoic", "isoechoic")


def _column(feature: str, value: str) -> str:
    return f"{feature}:{value}"


def lexicon_features(frame: pl.DataFrame, text: str, key: str) -> pl.DataFrame:
    """One row per ``key`` of ``frame`` with the six lexicon columns and ``lexicon_negated``.

    ``key`` must be unique in ``frame``; rows whose ``text`` is null get nulls.
    """
    clauses = (
        frame.select(
            pl.col(key),
            pl.col(text)
            .str.replace_all(_CONTRAST, ".")
            .str.replace_all(r"(\d)\.(\d)", "$1,$2")
            .str.extract_all(_CLAUSE)
            .alias("_clause"),
        )
        .explode("_clause")
        .with_columns(pl.col("_clause").str.to_lowercase())
        .with_columns(
            pl.col("_clause").str.replace_all(_NEGATIVE_VALUES, "${1}_$2").alias("_neutral")
        )
    )
    present_exprs = []
    negated_exprs = []
    for feature, value, pattern in TERMS:
        name = _column(feature, value)
        mentioned = pl.col("_clause").str.contains(pattern)
        if value in _NOT_NEGATABLE:
            negated = pl.lit(False)
        else:
            negated = pl.col("_neutral").str.contains(
                _PRE_CUES + r"[^.;!?\n]{0,150}?" + pattern
            ) | pl.col("_neutral").str.contains(pattern + r"[^.;!?\n]{0,150}?" + _POST_CUES)
        present_exprs.append((mentioned & ~negated).fill_null(False).any().alias(name))
        negated_exprs.append((mentioned & negated).fill_null(False).any().alias("neg|" + name))
    found = clauses.group_by(key, maintain_order=True).agg(present_exprs + negated_exprs)
    found = _apply_priorities(found)
    value_columns = []
    for feature in FEATURES:
        values = [(value, _column(feature, value)) for f, value, _ in TERMS if f == feature]
        joined = pl.concat_list(
            [pl.when(pl.col(c)).then(pl.lit(v)).otherwise(None) for v, c in values]
        ).list.drop_nulls()
        value_columns.append(
            pl.when(joined.list.len() > 0).then(joined.list.join(", ")).alias(feature)
        )
    negated_only = pl.concat_list(
        [
            pl.when(pl.col("neg|" + _column(f, v)) & ~pl.col(_column(f, v)))
            .then(pl.lit(_column(f, v)))
            .otherwise(None)
            for f, v, _ in TERMS
        ]
    ).list.drop_nulls()
    value_columns.append(
        pl.when(negated_only.list.len() > 0)
        .then(negated_only.list.join(", "))
        .alias("lexicon_negated")
    )
    has_text = frame.select(key, pl.col(text).is_not_null().alias("_has_text"))
    result = found.select(pl.col(key), *value_columns).join(has_text, on=key, how="left")
    return result.select(
        key,
        *[
            pl.when(pl.col("_has_text")).then(pl.col(c)).alias(c)
            for c in (*FEATURES, "lexicon_negated")
        ],
    )


def _apply_priorities(found: pl.DataFrame) -> pl.DataFrame:
    margin = {
        v: pl.col(_column("margin", v))
        for v in ("circumscribed", "not circumscribed", *_MARGIN_SPECIFIC)
    }
    any_specific = pl.any_horizontal([margin[v] for v in _MARGIN_SPECIFIC])
    echo = {
        v: pl.col(_column("echo", v))
        for v in (*_ECHO_BASIC, "heterogeneous", "complex cystic and solid")
    }
    basic_count = pl.sum_horizontal([echo[v].cast(pl.Int32) for v in _ECHO_BASIC])
    complex_ = echo["complex cystic and solid"]
    heterogeneous = (echo["heterogeneous"] | (basic_count >= 2)) & ~complex_
    basic_allowed = ~complex_ & ~heterogeneous
    return found.with_columns(
        (margin["circumscribed"] & ~(any_specific | margin["not circumscribed"])).alias(
            _column("margin", "circumscribed")
        ),
        (margin["not circumscribed"] & ~any_specific).alias(_column("margin", "not circumscribed")),
        heterogeneous.alias(_column("echo", "heterogeneous")),
        *[(echo[v] & basic_allowed).alias(_column("echo", v)) for v in _ECHO_BASIC],
        (
            pl.col(_column("orientation", "parallel"))
            & ~pl.col(_column("orientation", "not parallel"))
        ).alias(_column("orientation", "parallel")),
    )
