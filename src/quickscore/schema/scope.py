"""Load-time scopes: which fields and functions a model (or segment) can see, with their types."""

from __future__ import annotations

from quickscore.errors import InvalidMarkup
from quickscore.ir import DefineFunction, Loc
from quickscore.schema.fields import FieldDecl


class Scope:
    """Field declarations visible at one level; lookups fall back to the parent scope."""

    def __init__(
        self,
        fields: dict[str, FieldDecl] | None = None,
        parent: "Scope | None" = None,
        functions: dict[str, DefineFunction] | None = None,
        parameters: frozenset[str] = frozenset(),
    ):
        self.fields = dict(fields or {})
        self.parameters = parameters  # the ParameterFields of the DefineFunction being compiled
        self.parent = parent
        self._functions = functions
        self.compiled_functions: dict[str, object] = {} if parent is None else parent.compiled_functions
        self.compiling: set[str] = set() if parent is None else parent.compiling
        # The TransformationDictionary's derived fields (compiled), shared by every level.
        self.global_derived: list = [] if parent is None else parent.global_derived

    @property
    def functions(self) -> dict[str, DefineFunction]:
        if self._functions is not None:
            return self._functions
        return self.parent.functions if self.parent is not None else {}

    def child(self) -> "Scope":
        return Scope(parent=self)

    def declare(self, decl: FieldDecl) -> None:
        self.fields[decl.name] = decl

    def find(self, name: str) -> FieldDecl | None:
        scope: Scope | None = self
        while scope is not None:
            decl = scope.fields.get(name)
            if decl is not None:
                return decl
            scope = scope.parent
        return None

    def lookup(self, name: str, loc: Loc | None = None, what: str = "field") -> FieldDecl:
        decl = self.find(name)
        if decl is None:
            where = f" at {loc}" if loc else ""
            raise InvalidMarkup(f"Reference to undefined {what} '{name}'{where}")
        return decl
