"""Read an HTML report the way a browser would see it: elements, attributes and text (html.parser)."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"})
FETCHING_ATTRS = ("src", "href", "srcset", "action", "poster", "data", "background")


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""
    children: list[Element] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def iter(self, tag: str | None = None) -> list[Element]:
        found = [self] if tag is None or self.tag == tag else []
        for child in self.children:
            found += child.iter(tag)
        return found

    def by_id(self) -> dict[str, Element]:
        return {e.attrs["id"]: e for e in self.iter() if "id" in e.attrs}


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        for element in self.stack:  # an element's text includes its descendants'
            element.text += data


def parse(page: str) -> Element:
    builder = _TreeBuilder()
    builder.feed(page)
    builder.close()
    return builder.root


def external_references(root: Element) -> list[str]:
    """Every attribute or style that would make a browser fetch something from the network."""
    found = []
    for element in root.iter():
        for name in FETCHING_ATTRS:
            value = element.attrs.get(name, "").strip().lower()
            if value and not value.startswith("#"):
                found.append(f"<{element.tag} {name}={value!r}>")
        if element.tag in ("script", "link", "img", "iframe", "object", "embed"):
            found.append(f"<{element.tag}>")
        if element.tag == "style" and ("url(" in element.text or "@import" in element.text):
            found.append("<style> with url()/@import")
    return found
