"""Layer-name tables: one library's state-dict names rewritten as another's.

A :class:`LayerTable` is data: a tuple of :class:`LayerRule`, each naming one layer (a
module, not a tensor) in two libraries as templates, e.g. PySlowFast's
``"s{stage}.pathway{p}_res{i}.branch1"`` as PyTorchVideo's
``"{blocks}.{block}{path}.res_blocks.{i}.branch1_conv"``.
A field in braces on the source side matches a number (``{stage}``, ``{p}``, ``{i}``...);
the target side is written with ``str.format`` from those fields and the fields a
caller adds (:meth:`LayerTable.rename`'s ``fields``), so that a table holds no code and
a new family of networks adds its mapping as a new table. The tables themselves live
beside the formats they read (:mod:`.pyslowfast_names`, :mod:`.caffe2`).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

__all__ = ["LayerRule", "LayerTable"]

_FIELD = re.compile(r"\{(\w+)\}")

#: fields found on the source side -> every field the target template uses (None: the
#: rule does not apply, e.g. a second pathway in a one-pathway network)
Fields = Callable[[dict[str, str]], Optional[dict[str, object]]]


@functools.lru_cache(maxsize=None)
def _pattern(template: str) -> re.Pattern[str]:
    """``template`` as a regular expression matching a whole layer name; each field
    matches a decimal number (a repeated field must match the same number)."""
    parts, seen, last = [], set(), 0
    for match in _FIELD.finditer(template):
        parts.append(re.escape(template[last : match.start()]))
        name = match.group(1)
        parts.append(f"(?P={name})" if name in seen else rf"(?P<{name}>\d+)")
        seen.add(name)
        last = match.end()
    parts.append(re.escape(template[last:]))
    return re.compile("".join(parts))


@dataclass(frozen=True)
class LayerRule:
    """One layer's ``source`` name and its ``target`` name, as templates."""

    source: str
    target: str

    def match(self, layer: str) -> Optional[dict[str, str]]:
        """The fields of ``layer`` if it is this rule's source layer, else None."""
        found = _pattern(self.source).fullmatch(layer)
        return None if found is None else found.groupdict()


@dataclass(frozen=True)
class LayerTable:
    """A family's layer names in two libraries: the first matching rule renames a layer."""

    rules: tuple[LayerRule, ...]
    # layer -> (rule, its fields) or None: a layer's weight, bias and BN statistics share
    # their layer name, and the same names recur in every file of a family
    _found: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def _first_match(self, layer: str) -> Optional[tuple[LayerRule, dict[str, str]]]:
        if layer not in self._found:
            self._found[layer] = next(
                ((rule, found) for rule in self.rules if (found := rule.match(layer)) is not None),
                None,
            )
        return self._found[layer]

    def rename(self, layer: str, fields: Optional[Fields] = None) -> Optional[str]:
        """``layer``'s name in the target library, or None when no rule applies.

        Args:
            layer: a source layer name (a tensor's name without its own ``.weight``...).
            fields: completes the fields matched in ``layer`` with those the target
                template needs (default: the matched fields alone).
        """
        found = self._first_match(layer)
        if found is None:
            return None
        rule, matched = found
        values = fields(dict(matched)) if fields is not None else dict(matched)
        return None if values is None else rule.target.format(**values)

    def matches(self, layer: str) -> bool:
        """Whether some rule's source names ``layer``."""
        return self._first_match(layer) is not None
