"""The HOList action grammar.

HOL Light tactics are OCaml code, so an action string never reaches the toplevel as text. It is
tokenised and parsed here against the HOList tactic set (the 41 tactics of deepmath's
``hollight_tactics.textpb`` plus common atomic HOL Light ones, marked below), and becomes a
``TacticCall`` whose s-expression the project's OCaml server interprets with fixed code.

Syntax, as in HOL Light::

    ARITH_TAC                     MP_TAC ADD_SYM            REWRITE_TAC [ADD_SYM; MULT_SYM]
    EXISTS_TAC `n + 1`            SPEC_TAC (`n:num`, `n:num`)  X_CHOOSE_TAC `m:num` LT_EXISTS
    CONV_TAC NUM_REDUCE_CONV      CONV_TAC (DEPTH_CONV BETA_CONV)
    GEN_REWRITE_TAC (RAND_CONV o LAND_CONV) [ADD_SYM]           LABEL_TAC "h" ADD_SYM
    RAW_POP_TAC 0

Theorem arguments are database names (the backend checks that they come before the theorem
being proved) or theorem expressions built from them with a whitelist of HOL Light functions
(``THEOREM_FUNCTIONS``)::

    REWRITE_TAC [GSYM NOT_LT]     MESON_TAC [CONJUNCT1 LT]    MP_TAC (SPEC `n:num` LT_REFL)
    REWRITE_TAC [distinctness "list"]    SIMP_TAC [ARITH_RULE `x + 0 = x`]   MP_TAC (GSYM (CONJUNCT1 LT))

A function's theorem arguments are names or parenthesised expressions, as in OCaml; nesting is at
most ``MAX_THEOREM_DEPTH`` deep, and every name inside must come before the theorem being proved.
Rules that prove terms (``ARITH_RULE`` ...) run under the tactic timeout. Term arguments are HOL
quotations in backquotes, parsed by HOL Light's term parser in the context of the goal's free
variables, except the statement given to a rule that proves it (``STATEMENT_RULES``: ``ARITH_RULE
`...```, ``MESON [...] `...```), which is parsed on its own, as in HOL Light's sources. Everything
else is a ``TacticSyntaxError``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

MAX_ACTION_LENGTH = 2_000
MAX_TERM_LENGTH = 1_000
MAX_THEOREMS = 64
MAX_INT = 9_999  # integer arguments (RAW_POP_TAC's assumption index)

# Parameter kinds, as in hollight_tactics.textpb.
NONE, THM, THMS, TERM, INT, LABEL, CONV, CONVERSIONAL = "none", "thm", "thms", "term", "int", "label", "conv", "cvl"

TACTICS: dict[str, tuple[str, ...]] = {
    # the 41 HOList tactics
    "EXISTS_TAC": (TERM,), "ARITH_TAC": (), "DISJ_CASES_TAC": (THM,), "RAW_POP_TAC": (INT,),
    "REAL_ARITH_TAC": (), "REWRITE_TAC": (THMS,), "MATCH_ACCEPT_TAC": (THM,), "EQ_TAC": (),
    "X_GEN_TAC": (TERM,), "BACKCHAIN_TAC": (THM,), "RAW_SUBGOAL_TAC": (TERM,), "ITAUT_TAC": (),
    "UNDISCH_TAC": (TERM,), "DISCH_TAC": (), "ASM_METIS_TAC": (THMS,), "MP_TAC": (THM,),
    "RAW_CONJUNCTS_TAC": (THM,), "REAL_ARITH_TAC2": (), "ACCEPT_TAC": (THM,), "MK_COMB_TAC": (),
    "PURE_REWRITE_TAC": (THMS,), "ABS_TAC": (), "MATCH_MP_TAC": (THM,), "DISJ2_TAC": (),
    "RAW_POP_ALL_TAC": (), "PURE_ONCE_REWRITE_TAC": (THMS,), "SUBST1_TAC": (THM,), "CONV_TAC": (CONV,),
    "SIMP_TAC": (THMS,), "ANTS_TAC": (), "CONTR_TAC": (THM,), "CONJ_TAC": (), "ASM_MESON_TAC": (THMS,),
    "REFL_TAC": (), "X_CHOOSE_TAC": (TERM, THM), "DISJ1_TAC": (), "SPEC_TAC": (TERM, TERM),
    "LABEL_TAC": (LABEL, THM), "ONCE_REWRITE_TAC": (THMS,), "GEN_REWRITE_TAC": (CONVERSIONAL, THMS),
    "TRANS_TAC": (THM, TERM),
    # common HOL Light tactics beyond the HOList set, used by the baseline policy
    "GEN_TAC": (), "STRIP_TAC": (), "ASM_REWRITE_TAC": (THMS,), "ASM_SIMP_TAC": (THMS,), "MESON_TAC": (THMS,),
    # atomic tactics that HOL Light's own core proofs use often (issue 13), each taking only theorems,
    # terms, a variable name or nothing
    "INDUCT_TAC": (), "LIST_INDUCT_TAC": (), "COND_CASES_TAC": (), "AP_TERM_TAC": (), "AP_THM_TAC": (),
    "BETA_TAC": (), "BINOP_TAC": (), "ASM_ARITH_TAC": (), "INT_ARITH_TAC": (), "ASM_INT_ARITH_TAC": (),
    "ASM_REAL_ARITH_TAC": (), "INTEGER_TAC": (), "NUMBER_TAC": (), "DIMINDEX_TAC": (), "LET_TAC": (),
    "NUM_REDUCE_TAC": (),
    "SET_TAC": (THMS,), "METIS_TAC": (THMS,), "ONCE_ASM_REWRITE_TAC": (THMS,),
    "PURE_ASM_REWRITE_TAC": (THMS,), "ONCE_ASM_SIMP_TAC": (THMS,), "IMP_REWRITE_TAC": (THMS,),
    "ASM_CASES_TAC": (TERM,), "BOOL_CASES_TAC": (TERM,), "ABBREV_TAC": (TERM,), "WF_INDUCT_TAC": (TERM,),
    "ASSUME_TAC": (THM,), "STRIP_ASSUME_TAC": (THM,), "STRUCT_CASES_TAC": (THM,), "SUBST_ALL_TAC": (THM,),
    "CHOOSE_TAC": (THM,), "EXPAND_TAC": (LABEL,),
}
HOLIST_TACTICS = tuple(list(TACTICS)[:41])

# Theorem-producing functions allowed inside theorem arguments (issue 13), with their parameters:
# THM a theorem expression, TERM a quotation, TYNAME a type name in double quotes. Interpreted by a
# fixed match in aitp_server.ml, like the tactics.
TYNAME, TERMS = "tyname", "terms"
THEOREM_FUNCTIONS: dict[str, tuple[str, ...]] = {
    "GSYM": (THM,), "SYM": (THM,), "CONJUNCT1": (THM,), "CONJUNCT2": (THM,), "SPEC_ALL": (THM,),
    "DENUMERAL": (THM,), "EQT_INTRO": (THM,), "EQF_INTRO": (THM,), "EQT_ELIM": (THM,), "EQF_ELIM": (THM,),
    "GEN_ALL": (THM,),
    "MATCH_MP": (THM, THM), "CONJ": (THM, THM), "TRANS": (THM, THM),
    "SPEC": (TERM, THM), "ISPEC": (TERM, THM), "REFL": (TERM,),
    "ARITH_RULE": (TERM,), "REAL_ARITH": (TERM,), "INT_ARITH": (TERM,), "TAUT": (TERM,), "ITAUT": (TERM,),
    "NUMBER_RULE": (TERM,), "INTEGER_RULE": (TERM,), "SET_RULE": (TERM,), "INT_RING": (TERM,),
    "REAL_RING": (TERM,), "NUM_RING": (TERM,), "REAL_FIELD": (TERM,),
    "MESON": (THMS, TERM), "SPECL": (TERMS, THM), "ISPECL": (TERMS, THM),
    "REWRITE_RULE": (THMS, THM), "ONCE_REWRITE_RULE": (THMS, THM), "PURE_REWRITE_RULE": (THMS, THM),
    "distinctness": (TYNAME,), "injectivity": (TYNAME,), "cases": (TYNAME,),
}
# the statements that these rules prove are parsed on their own, not in the goal's context
STATEMENT_RULES = frozenset({"ARITH_RULE", "REAL_ARITH", "INT_ARITH", "TAUT", "ITAUT", "NUMBER_RULE",
                             "INTEGER_RULE", "SET_RULE", "INT_RING", "REAL_RING", "NUM_RING", "REAL_FIELD", "MESON"})
MAX_THEOREM_DEPTH = 8  # nesting of theorem functions, e.g. GSYM (CONJUNCT1 LT) has depth 2

CONVERSIONS = frozenset({"BETA_CONV", "NUM_REDUCE_CONV", "REAL_RAT_REDUCE_CONV", "INT_REDUCE_CONV", "SYM_CONV",
                         "ETA_CONV", "NNF_CONV", "CNF_CONV", "DNF_CONV", "NUM_SIMPLIFY_CONV", "ALL_CONV"})
CONVERSIONALS = frozenset({"DEPTH_CONV", "ONCE_DEPTH_CONV", "TOP_DEPTH_CONV", "REDEPTH_CONV", "RAND_CONV",
                           "LAND_CONV", "RATOR_CONV", "BINDER_CONV", "ABS_CONV", "BINOP_CONV", "SUB_CONV", "I"})

_TOKEN = re.compile(r"""
    (?P<ws>[ \t]+)
  | (?P<term>`[^`]*`)
  | (?P<label>"[A-Za-z0-9_']{1,32}")
  | (?P<name>[A-Za-z_][A-Za-z0-9_']*)
  | (?P<int>[0-9]+)
  | (?P<punct>[\[\];(),])
""", re.VERBOSE)
_TERM_CHARS = re.compile(r"[\x20-\x7e]*")


class TacticSyntaxError(ValueError):
    """An action that is not a tactic of the grammar. It never reaches the prover."""


def _sq(s: str) -> str:
    """An s-expression string atom."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class ThmExpr:
    """A theorem made by a whitelisted function (``THEOREM_FUNCTIONS``), e.g. ``GSYM (CONJUNCT1 LT)``.
    ``args`` follow the function's parameters: a theorem (a name or a ``ThmExpr``), a term's text, or
    a type name."""

    fn: str
    args: tuple

    def theorem_names(self) -> list[str]:
        out: list[str] = []
        for kind, arg in zip(THEOREM_FUNCTIONS[self.fn], self.args, strict=True):
            if kind == THM:
                out.extend(_thm_names(arg))
            elif kind == THMS:
                for a in arg:
                    out.extend(_thm_names(a))
        return out

    def to_sexp(self) -> str:
        parts = ["rule", self.fn]
        for kind, arg in zip(THEOREM_FUNCTIONS[self.fn], self.args, strict=True):
            if kind == THM:
                parts.append(_thm_sexp(arg))
            elif kind == THMS:
                parts.append(_thms_sexp(arg))
            elif kind == TERM:
                parts.append(f"(term {_sq(arg)})")
            elif kind == TERMS:
                parts.append("(terms" + "".join(f" (term {_sq(t)})" for t in arg) + ")")
            else:
                parts.append(f"(tyname {_sq(arg)})")
        return "(" + " ".join(parts) + ")"

    def __str__(self) -> str:
        out = [self.fn]
        for kind, arg in zip(THEOREM_FUNCTIONS[self.fn], self.args, strict=True):
            if kind == THM:
                out.append(f"({arg})" if isinstance(arg, ThmExpr) else arg)
            elif kind == THMS:
                out.append("[" + "; ".join(str(a) for a in arg) + "]")
            elif kind == TERM:
                out.append(f"`{arg}`")
            elif kind == TERMS:
                out.append("[" + "; ".join(f"`{t}`" for t in arg) + "]")
            else:
                out.append(f'"{arg}"')
        return " ".join(out)


def _thm_names(arg: str | ThmExpr) -> list[str]:
    return arg.theorem_names() if isinstance(arg, ThmExpr) else [arg]


def _thm_sexp(arg: str | ThmExpr) -> str:
    return arg.to_sexp() if isinstance(arg, ThmExpr) else f"(thm {_sq(arg)})"


def _thms_sexp(args: tuple) -> str:
    return "(thms" + "".join(" " + (a.to_sexp() if isinstance(a, ThmExpr) else _sq(a)) for a in args) + ")"


@dataclass(frozen=True)
class TacticCall:
    name: str
    args: tuple  # per parameter: str (thm name, term, label), ThmExpr (thm), int,
    #              tuple[str | ThmExpr, ...] (thms), or a nested conv tuple

    def theorem_names(self) -> list[str]:
        """Every database theorem named in the arguments, including inside theorem expressions."""
        out: list[str] = []
        for kind, arg in zip(TACTICS[self.name], self.args, strict=True):
            if kind == THM:
                out.extend(_thm_names(arg))
            elif kind == THMS:
                for a in arg:
                    out.extend(_thm_names(a))
        return out

    def to_sexp(self) -> str:
        parts = [self.name]
        for kind, arg in zip(TACTICS[self.name], self.args, strict=True):
            if kind == THM:
                parts.append(_thm_sexp(arg))
            elif kind == THMS:
                parts.append(_thms_sexp(arg))
            elif kind == TERM:
                parts.append(f"(term {_sq(arg)})")
            elif kind == INT:
                parts.append(f'(int "{arg}")')
            elif kind == LABEL:
                parts.append(f"(label {_sq(arg)})")
            elif kind == CONV:
                parts.append(f"(conv {_conv_sexp(arg)})")
            elif kind == CONVERSIONAL:
                parts.append(f"(conversional {_conv_sexp(arg)})")
        return "(" + " ".join(parts) + ")"

    def __str__(self) -> str:
        out = [self.name]
        for kind, arg in zip(TACTICS[self.name], self.args, strict=True):
            if kind == THMS:
                out.append("[" + "; ".join(str(a) for a in arg) + "]")
            elif kind == THM and isinstance(arg, ThmExpr):
                out.append(f"({arg})")
            elif kind == TERM:
                out.append(f"`{arg}`")
            elif kind == LABEL:
                out.append(f'"{arg}"')
            elif kind in (CONV, CONVERSIONAL):
                out.append(_conv_text(arg))
            else:
                out.append(str(arg))
        return " ".join(out)


def _conv_sexp(c: object) -> str:
    if isinstance(c, str):
        return c
    head, *rest = c
    return "(" + " ".join([head, *(_conv_sexp(r) for r in rest)]) + ")"


def _conv_text(c: object) -> str:
    if isinstance(c, str):
        return c
    head, *rest = c
    if head == "o":
        return "(" + " o ".join(_conv_text(r) for r in rest) + ")"
    return f"({head} {_conv_text(rest[0])})"


def tokenize(action: str) -> list[tuple[str, str]]:
    if not isinstance(action, str):
        raise TacticSyntaxError(f"an action must be a string, not {type(action).__name__}")
    if len(action) > MAX_ACTION_LENGTH:
        raise TacticSyntaxError(f"action is longer than {MAX_ACTION_LENGTH} characters")
    tokens, pos = [], 0
    while pos < len(action):
        m = _TOKEN.match(action, pos)
        if m is None:
            if action[pos] == "-" and action[pos + 1: pos + 2].isdigit():
                raise TacticSyntaxError(f"negative number at column {pos}: integer arguments are at least 0")
            raise TacticSyntaxError(f"unexpected character {action[pos]!r} at column {pos}")
        kind = m.lastgroup
        if kind != "ws":
            tokens.append((kind, m.group()))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens, self.i = tokens, 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, kind: str, what: str, value: str | None = None) -> str:
        tok = self.peek()
        if tok is None or tok[0] != kind or (value is not None and tok[1] != value):
            found = "the end of the action" if tok is None else repr(tok[1])
            raise TacticSyntaxError(f"expected {what}, found {found}")
        self.i += 1
        return tok[1]

    def at(self, value: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[0] == "punct" and tok[1] == value

    def parenthesised(self, inner: Callable[[], object]) -> object:
        if self.at("("):
            self.i += 1
            value = inner()
            self.take("punct", "')'", ")")
            return value
        return inner()

    def theorem(self, depth: int = 0) -> str | ThmExpr:
        """A theorem argument: a name, or a theorem expression in parentheses."""
        if self.at("("):
            self.i += 1
            value = self.theorem_expression(depth)
            self.take("punct", "')'", ")")
            return value
        name = self.take("name", "a theorem name")
        if name in THEOREM_FUNCTIONS:
            raise TacticSyntaxError(f"{name} applied to arguments must be in parentheses here, e.g. ({name} ...)")
        return name

    def theorem_expression(self, depth: int = 0) -> str | ThmExpr:
        """A name, or a whitelisted function applied to its arguments (e.g. GSYM NOT_LT)."""
        if self.at("("):
            self.i += 1
            value = self.theorem_expression(depth)
            self.take("punct", "')'", ")")
            return value
        name = self.take("name", "a theorem name or a theorem function such as GSYM")
        kinds = THEOREM_FUNCTIONS.get(name)
        if kinds is None:
            return name
        if depth + 1 > MAX_THEOREM_DEPTH:
            raise TacticSyntaxError(f"theorem expressions nest at most {MAX_THEOREM_DEPTH} deep")
        args: list[object] = []
        for kind in kinds:
            if kind == THM:
                args.append(self.theorem(depth + 1))
            elif kind == THMS:
                args.append(self.theorems(depth + 1))
            elif kind == TERM:
                args.append(self.term())
            elif kind == TERMS:
                args.append(self.terms())
            else:
                args.append(self.take("label", f'a type name in double quotes after {name}, e.g. "list"')[1:-1])
        return ThmExpr(name, tuple(args))

    def theorems(self, depth: int = 0) -> tuple[str | ThmExpr, ...]:
        self.take("punct", "'[' to open a theorem list", "[")
        names: list[str | ThmExpr] = []
        if not self.at("]"):
            names.append(self.theorem_expression(depth))
            while self.at(";"):
                self.i += 1
                if len(names) >= MAX_THEOREMS:
                    raise TacticSyntaxError(f"at most {MAX_THEOREMS} theorems in a list")
                names.append(self.theorem_expression(depth))
        self.take("punct", "']' or ';'", "]")
        if len(names) > MAX_THEOREMS:
            raise TacticSyntaxError(f"at most {MAX_THEOREMS} theorems in a list")
        return tuple(names)

    def terms(self) -> tuple[str, ...]:
        self.take("punct", "'[' to open a term list", "[")
        out = [self.term()]
        while self.at(";"):
            self.i += 1
            if len(out) >= MAX_THEOREMS:
                raise TacticSyntaxError(f"at most {MAX_THEOREMS} terms in a list")
            out.append(self.term())
        self.take("punct", "']' or ';'", "]")
        return tuple(out)

    def term(self) -> str:
        quoted = self.parenthesised(lambda: self.take("term", "a term in backquotes, e.g. `n + 1`"))
        body = quoted[1:-1].strip()
        if not body:
            raise TacticSyntaxError("empty term quotation")
        if len(body) > MAX_TERM_LENGTH:
            raise TacticSyntaxError(f"term is longer than {MAX_TERM_LENGTH} characters")
        if not _TERM_CHARS.fullmatch(body):
            raise TacticSyntaxError("terms are written in HOL Light's ASCII syntax (no control characters)")
        return body

    def conv(self) -> object:
        if self.at("("):
            self.i += 1
            head = self.take("name", "a conversion or conversional")
            if head in CONVERSIONALS:
                value: object = (head, self.conv())
            elif head in CONVERSIONS:
                value = head
            else:
                raise TacticSyntaxError(f"unknown conversion {head!r}")
            self.take("punct", "')'", ")")
            return value
        name = self.take("name", "a conversion")
        if name not in CONVERSIONS:
            raise TacticSyntaxError(f"unknown conversion {name!r}; allowed: {', '.join(sorted(CONVERSIONS))}")
        return name

    def conversional(self) -> object:
        def one() -> str:
            name = self.take("name", "a conversional")
            if name not in CONVERSIONALS:
                raise TacticSyntaxError(f"unknown conversional {name!r}; allowed: {', '.join(sorted(CONVERSIONALS))}")
            return name

        if not self.at("("):
            return one()
        self.i += 1
        parts = [one()]
        while self.peek() == ("name", "o"):
            self.i += 1
            parts.append(one())
        self.take("punct", "')' or 'o'", ")")
        return parts[0] if len(parts) == 1 else ("o", *parts)

    def argument(self, kind: str) -> object:
        if kind == THM:
            return self.theorem()
        if kind == THMS:
            return self.theorems()
        if kind == TERM:
            return self.term()
        if kind == INT:
            digits = self.take("int", f"an integer from 0 to {MAX_INT}")
            if len(digits) > len(str(MAX_INT)) or int(digits) > MAX_INT:
                shown = digits if len(digits) <= 20 else digits[:20] + "…"
                raise TacticSyntaxError(f"number {shown} too large: integer arguments are at most {MAX_INT}")
            return int(digits)
        if kind == LABEL:
            return self.take("label", 'a label in double quotes, e.g. "h"')[1:-1]
        if kind == CONV:
            return self.conv()
        return self.conversional()


def parse_tactic(action: str) -> TacticCall:
    """Parse an action string into a ``TacticCall``, or raise ``TacticSyntaxError`` saying why."""
    parser = _Parser(tokenize(action))
    if parser.peek() is None:
        raise TacticSyntaxError("empty action; expected a tactic such as ARITH_TAC")
    name = parser.take("name", "a tactic name")
    if name not in TACTICS:
        raise TacticSyntaxError(f"unknown tactic {name!r}; see aitp_gym.envs.holist.grammar.TACTICS for the tactic set")
    kinds = TACTICS[name]
    if kinds == (TERM, TERM) and parser.at("("):  # SPEC_TAC (`a`, `b`)
        parser.i += 1
        first = parser.term()
        parser.take("punct", "','", ",")
        second = parser.term()
        parser.take("punct", "')'", ")")
        args: tuple = (first, second)
    else:
        args = tuple(parser.argument(kind) for kind in kinds)
    if parser.peek() is not None:
        raise TacticSyntaxError(f"unexpected {parser.peek()[1]!r} after a complete {name}")
    return TacticCall(name, args)
