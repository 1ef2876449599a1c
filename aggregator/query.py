"""The topic query language: parse a `query:` string into a tree of plain records. Pure: no I/O.

Grammar (EBNF). Operators are words in any case (AND, and, And); to look for the words
themselves, put them in quotes ("and").

    query    = or_expr ;
    or_expr  = and_expr , { "OR" , and_expr } ;
    and_expr = not_expr , { [ "AND" ] , not_expr } ;    (* two terms side by side: AND *)
    not_expr = ( "NOT" | "-" ) , not_expr                 (* "-" only right before a term: -招聘 *)
             | field , ":" , not_expr                     (* the field applies to what follows *)
             | primary ;
    primary  = "(" , or_expr , ")" | phrase | regex | word ;
    field    = "title" | "text" | "category" | "source" | "author" | "link" ;
    phrase   = '"' , { any character but '"', or '\\"' } , '"' ;
    regex    = "/" , { any character but "/", or "\\/" } , "/" ;
    word     = a run of characters up to a space, "(", ")" or '"' ;

Precedence, tightest first: NOT (and "-"), then AND (written or implied), then OR.
`AI OR LLM NOT 招聘` reads `AI OR (LLM AND (NOT 招聘))`; write `(AI OR LLM) NOT 招聘` to veto
both. A field scope applies to the primary right after it and to every term inside a
parenthesised group (`title:(开源 OR 大会)`); a scope written inside the group wins there.

Before tokenising, full-width ASCII forms and the ideographic space become their ASCII forms
(`（`, `）`, `：`, `＂` ...), and Chinese quotation marks “ ” count as '"', so a query typed with a
Chinese input method parses the same. This mapping is one character for one character, so error
positions are those of the text as written.

A word of ASCII letters followed by ":" must name a field (`titel:AI` is an error, not a search
for "titel:ai"); a URL-like word with "://" is a plain word. Put any other term holding a colon in
quotes. A word directly after a field (`title:or`) is always a term, never an operator.

Every error is a QuerySyntaxError with a message and the 0-based position in the text; str() says
"column N: ..." with N counted from 1.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

FIELDS = ("title", "text", "category", "source", "author", "link")
OPERATORS = ("AND", "OR", "NOT")


class QuerySyntaxError(ValueError):
    """The query cannot be parsed; `position` is the 0-based offset in the query text."""

    def __init__(self, message: str, position: int):
        super().__init__(message, position)
        self.message = message
        self.position = position

    @property
    def column(self) -> int:
        return self.position + 1

    def __str__(self) -> str:
        return f"column {self.column}: {self.message}"


def pointer(text: str, position: int) -> str:
    """Two lines for a terminal: the query, and a caret under `position` (wide CJK characters
    take two columns, so the caret lines up under them)."""
    line = " ".join(text.splitlines())
    width = sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in line[:position])
    return f"{line}\n{' ' * width}^"


# -- the tree ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One keyword, phrase or regex, with the field it is scoped to (None: title, text, categories)."""

    value: str  # the keyword or phrase without its quotes, or the regex pattern without slashes
    kind: str  # "word", "phrase" or "regex"
    field: str | None
    position: int

    def __str__(self) -> str:
        if self.kind == "regex":
            body = f"/{self.value}/"
        elif self.kind == "phrase":
            body = '"' + self.value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        else:
            body = self.value
        return f"{self.field}:{body}" if self.field else body


@dataclass(frozen=True)
class Not:
    operand: Node
    position: int

    def __str__(self) -> str:
        return f"NOT {_grouped(self.operand, Term, Not)}"


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]

    def __str__(self) -> str:
        return " AND ".join(_grouped(operand, Term, Not, And) for operand in self.operands)


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]

    def __str__(self) -> str:
        return " OR ".join(_grouped(operand, Term, Not) for operand in self.operands)


Node = Term | Not | And | Or


def _grouped(node: Node, *bare: type) -> str:
    return str(node) if isinstance(node, bare) else f"({node})"


def terms(node: Node, negated: bool = False) -> Iterator[tuple[Term, bool]]:
    """Every term of the tree, in order, with whether it sits under an odd number of NOTs."""
    if isinstance(node, Term):
        yield node, negated
    elif isinstance(node, Not):
        yield from terms(node.operand, not negated)
    else:
        for operand in node.operands:
            yield from terms(operand, negated)


# -- tokens --------------------------------------------------------------------------------------

_LPAREN, _RPAREN, _AND, _OR, _NOT, _FIELD, _WORD, _PHRASE, _REGEX, _END = (
    "(",
    ")",
    "AND",
    "OR",
    "NOT",
    "field",
    "word",
    "phrase",
    "regex",
    "end",
)
_TERMS = (_WORD, _PHRASE, _REGEX)
_STARTS = (*_TERMS, _LPAREN, _NOT, _FIELD)  # tokens that can begin a not_expr

_FIELD_PREFIX = re.compile(r"[A-Za-z]+:")
_DELIMITERS = '()"'
# Full-width ASCII and the ideographic space map to ASCII; Chinese double quotes map to '"'.
_HALFWIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {
    0x3000: 0x20,
    0x201C: 0x22,
    0x201D: 0x22,
}


@dataclass(frozen=True)
class _Token:
    kind: str
    value: str
    position: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    at, end = 0, len(text)
    attached = False  # the previous token was a field prefix with no space after it
    while at < end:
        char = text[at]
        if char.isspace():
            at += 1
            attached = False
            continue
        start = at
        if char in "()":
            tokens.append(_Token(char, char, start))
            at += 1
        elif char == '"':
            value, at = _quoted(text, at, '"', "quote")
            if not value.strip():
                raise QuerySyntaxError('empty phrase ""', start)
            tokens.append(_Token(_PHRASE, value, start))
        elif char == "/":
            value, at = _quoted(text, at, "/", "regex")
            if at < end and not (text[at].isspace() or text[at] == ")"):
                raise QuerySyntaxError(
                    f"expected a space or ')' after the regex /{value}/; to look for text with "
                    "slashes, put it in quotes",
                    at,
                )
            if not value:
                raise QuerySyntaxError("empty regex //", start)
            try:
                re.compile(value, re.IGNORECASE)
            except re.error as error:
                offset = 1 + error.pos if error.pos is not None else 0
                raise QuerySyntaxError(f"invalid regex /{value}/: {error.msg}", start + offset) from None
            tokens.append(_Token(_REGEX, value, start))
        elif char == "-" and not attached:
            if at + 1 == end or text[at + 1].isspace() or text[at + 1] == ")":
                raise QuerySyntaxError("expected a term right after '-' (write -招聘 or NOT 招聘)", start)
            tokens.append(_Token(_NOT, "-", start))
            at += 1
            continue  # the term follows at once
        else:
            prefix = _FIELD_PREFIX.match(text, at)
            if prefix and not text.startswith("//", prefix.end()):
                name = prefix[0][:-1]
                if name.lower() not in FIELDS:
                    hint = difflib.get_close_matches(name.lower(), FIELDS, n=1)
                    did_you_mean = f" (did you mean {hint[0]!r}?)" if hint else ""
                    raise QuerySyntaxError(
                        f"unknown field {name!r}{did_you_mean}; fields are {', '.join(FIELDS)}; "
                        "put a term with a colon in quotes",
                        start,
                    )
                tokens.append(_Token(_FIELD, name.lower(), start))
                at = prefix.end()
                attached = True
                continue
            while at < end and not text[at].isspace() and text[at] not in _DELIMITERS:
                at += 1
            word = text[start:at]
            kind = word.upper() if word.upper() in OPERATORS and not attached else _WORD
            tokens.append(_Token(kind, word, start))
        attached = False
    tokens.append(_Token(_END, "", end))
    return tokens


def _quoted(text: str, start: int, close: str, what: str) -> tuple[str, int]:
    """Read from the opening `close` at `start` to the next unescaped one; return (inside, after)."""
    at = start + 1
    out: list[str] = []
    while at < len(text):
        char = text[at]
        if char == "\\" and at + 1 < len(text):
            following = text[at + 1]
            if close == '"' and following in '"\\':
                out.append(following)  # a phrase unescapes \" and \\
            else:
                out.append(char + following)  # a regex keeps its escapes for the regex engine
            at += 2
            continue
        if char == close:
            return "".join(out), at + 1
        out.append(char)
        at += 1
    raise QuerySyntaxError(f"unclosed {what}: the {close!r} here has no closing {close!r}", start)


# -- the parser ----------------------------------------------------------------------------------


def parse(text: str) -> Node:
    """Parse a query (see the module docstring); raise QuerySyntaxError with the position of the error."""
    if not isinstance(text, str):
        raise QuerySyntaxError("a query must be text", 0)
    if not text.strip():
        raise QuerySyntaxError("the query is empty", 0)
    return _Parser(_tokenize(text.translate(_HALFWIDTH))).parse()


class _Parser:
    """Recursive descent, one method per grammar rule; `field` is the scope in force."""

    def __init__(self, tokens: list[_Token]):
        self.tokens = tokens
        self.at = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.at]

    def advance(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def parse(self) -> Node:
        node = self.or_expr(None)
        token = self.token
        if token.kind == _RPAREN:
            raise QuerySyntaxError("unexpected ')': no '(' before it to close", token.position)
        if token.kind != _END:  # cannot happen: and_expr takes every token that starts a term
            raise QuerySyntaxError(f"unexpected {token.value!r}", token.position)
        return node

    def or_expr(self, field: str | None) -> Node:
        operands = [self.and_expr(field)]
        while self.token.kind == _OR:
            operator = self.advance()
            self.expect_term_after(operator)
            operands.append(self.and_expr(field))
        return _combine(Or, operands)

    def and_expr(self, field: str | None) -> Node:
        operands = [self.not_expr(field)]
        while True:
            if self.token.kind == _AND:
                operator = self.advance()
                self.expect_term_after(operator)
            elif self.token.kind not in _STARTS:
                break
            operands.append(self.not_expr(field))
        return _combine(And, operands)

    def not_expr(self, field: str | None) -> Node:
        if self.token.kind == _NOT:
            operator = self.advance()
            self.expect_term_after(operator)
            return Not(self.not_expr(field), operator.position)
        return self.scoped(field)

    def scoped(self, field: str | None) -> Node:
        if self.token.kind == _FIELD:
            prefix = self.advance()
            self.expect_term_after(prefix, f"{prefix.value}:")
            return self.not_expr(prefix.value)
        return self.primary(field)

    def primary(self, field: str | None) -> Node:
        token = self.token
        if token.kind in _TERMS:
            self.advance()
            return Term(token.value, token.kind, field, token.position)
        if token.kind == _LPAREN:
            self.advance()
            if self.token.kind == _RPAREN:
                raise QuerySyntaxError("empty parentheses: expected a term inside", self.token.position)
            node = self.or_expr(field)
            if self.token.kind != _RPAREN:
                found = "the end of the query" if self.token.kind == _END else repr(self.token.value)
                raise QuerySyntaxError(
                    f"expected ')' to close the '(' at column {token.position + 1}, found {found}",
                    self.token.position,
                )
            self.advance()
            return node
        if token.kind in (_AND, _OR):
            raise QuerySyntaxError(f"{token.value!r} needs a term on each side", token.position)
        if token.kind == _RPAREN:
            raise QuerySyntaxError("unexpected ')': expected a term", token.position)
        raise QuerySyntaxError("expected a term, found the end of the query", token.position)

    def expect_term_after(self, operator: _Token, shown: str | None = None) -> None:
        token = self.token
        if token.kind in _STARTS:
            return
        found = "the end of the query" if token.kind == _END else repr(token.value)
        raise QuerySyntaxError(
            f"expected a term after {shown or operator.value!r}, found {found}", token.position
        )


def _combine(kind: type[And] | type[Or], operands: list[Node]) -> Node:
    """One operand stands alone; nested groups of the same operator are flattened."""
    if len(operands) == 1:
        return operands[0]
    flat: list[Node] = []
    for operand in operands:
        flat.extend(operand.operands if isinstance(operand, kind) else (operand,))
    return kind(tuple(flat))
