"""Topic queries: the tree from query.parse(), compiled for the fields each term looks at."""

from __future__ import annotations

from .. import query as query_language
from ..folding import fold
from .keywords import Plain, Regex, compile_regex, fold_keyword
from .prepared import FoldedStory, field_name, whole


class QueryTerm:
    """One query term, compiled for its field; find() names the field it is found in."""

    __slots__ = ("find", "term")

    def __init__(self, term: query_language.Term, chinese: bool) -> None:
        self.term = term
        field = term.field
        if term.kind == "regex":
            pattern = compile_regex(term.value, chinese)
            search = pattern.search
            if field is None:
                regex = Regex(str(term), pattern)
                self.find = lambda view: found_field(regex.field_found(view))
            elif field in ("title", "text", "author"):
                self.find = lambda view: field if search(getattr(view, field)) else None
            elif field == "category":
                self.find = lambda view: field if any(search(c) for c in view.categories) else None
            elif field == "source":
                self.find = lambda view: field if any(search(s) for s in view.source_ids()) else None
            else:  # link
                self.find = lambda view: field if any(search(link) for link in view.links) else None
            return
        if field == "source":  # ids compare exactly, as in the sources rule
            wanted = term.value.strip()
            self.find = lambda view: field if wanted in view.source_ids() else None
            return
        folded = fold_keyword(term.value, chinese)
        if field == "category":
            key = whole(folded)
            self.find = lambda view: field if key in view.category_keys else None
        elif field == "link":
            needle = fold(term.value.strip())
            self.find = lambda view: field if any(needle in link for link in view.links) else None
        elif not folded.strip():
            # Only characters that folding removes (zero-width, controls): nothing to look for,
            # and matching everything would be a worse surprise than matching nothing.
            self.find = lambda view: None
        else:
            keyword = Plain(str(term), folded)
            if field is None:
                self.find = lambda view: found_field(keyword.field_found(view))
            else:  # title, text, author
                self.find = lambda view: field if keyword.found_in(getattr(view, field)) else None

    def holds(self, view: FoldedStory) -> bool:
        return self.find(view) is not None

    def decide(self, view: FoldedStory, negated: bool, reasons: list[str]) -> bool:
        field = self.find(view)
        shown = f"NOT {self.term}: " if negated else f"{self.term} "
        reasons.append(f"{shown}matched in {field}" if field else f"{shown}not found")
        return field is not None


def found_field(index: int | None) -> str | None:
    return None if index is None else field_name(index)


class QueryNot:
    __slots__ = ("operand",)

    def __init__(self, operand: QueryNode) -> None:
        self.operand = operand

    def holds(self, view: FoldedStory) -> bool:
        return not self.operand.holds(view)

    def decide(self, view: FoldedStory, negated: bool, reasons: list[str]) -> bool:
        return not self.operand.decide(view, not negated, reasons)


class QueryAnd:
    """All operands hold. decide() reports every operand when it holds, else the first that fails."""

    __slots__ = ("operands",)

    def __init__(self, operands: list[QueryNode]) -> None:
        self.operands = operands

    def holds(self, view: FoldedStory) -> bool:
        return all(operand.holds(view) for operand in self.operands)

    def decide(self, view: FoldedStory, negated: bool, reasons: list[str]) -> bool:
        collected: list[str] = []
        for operand in self.operands:
            mine: list[str] = []
            if not operand.decide(view, negated, mine):
                reasons.extend(mine)
                return False
            collected.extend(mine)
        reasons.extend(collected)
        return True


class QueryOr:
    """One operand holds. decide() reports the first that holds, else every operand."""

    __slots__ = ("operands",)

    def __init__(self, operands: list[QueryNode]) -> None:
        self.operands = operands

    def holds(self, view: FoldedStory) -> bool:
        return any(operand.holds(view) for operand in self.operands)

    def decide(self, view: FoldedStory, negated: bool, reasons: list[str]) -> bool:
        collected: list[str] = []
        for operand in self.operands:
            mine: list[str] = []
            if operand.decide(view, negated, mine):
                reasons.extend(mine)
                return True
            collected.extend(mine)
        reasons.extend(collected)
        return False


QueryNode = QueryTerm | QueryNot | QueryAnd | QueryOr


def compile_query(node: query_language.Node, chinese: bool) -> QueryNode:
    if isinstance(node, query_language.Term):
        return QueryTerm(node, chinese)
    if isinstance(node, query_language.Not):
        return QueryNot(compile_query(node.operand, chinese))
    operands = [compile_query(operand, chinese) for operand in node.operands]
    return QueryAnd(operands) if isinstance(node, query_language.And) else QueryOr(operands)
