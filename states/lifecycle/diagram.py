"""The lifecycle as a Mermaid diagram, drawn from the machine itself, and the README's copy of it.

`python -m states.lifecycle.diagram README.md` rewrites the diagram between the README's markers;
`--check` exits 1 when the README's copy is stale.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from transitions.extensions import GraphMachine

from states.lifecycle.machine import MACHINE, Phase

START, END = "<!-- lifecycle:start -->", "<!-- lifecycle:end -->"


class _Drawing:
    """A model for the drawing machine; it never leaves `needed`."""


def mermaid() -> str:
    """The machine's states and transitions as a Mermaid state diagram."""
    machine = GraphMachine(
        model=None,
        states=list(MACHINE.states),
        transitions=[
            {"trigger": name, "source": t.source, "dest": t.dest}
            for name, event in MACHINE.events.items()
            for transitions in event.transitions.values()
            for t in transitions
        ],
        initial=Phase.NEEDED.value,
        auto_transitions=False,
        graph_engine="mermaid",
        title="Review lifecycle",
    )
    model = _Drawing()
    machine.add_model(model, initial=Phase.NEEDED.value)
    text = model.get_graph().draw(None)  # type: ignore[attr-defined]
    # styling lines mark a "current" state, which a lifecycle diagram has not
    lines = [ln.rstrip() for ln in text.splitlines() if not re.match(r"\s*(classDef|Class) ", ln)]
    return "\n".join(ln for ln in lines if ln) + "\n"


def readme_block() -> str:
    """The README section between the markers, as it should be."""
    return f"{START}\n```mermaid\n{mermaid()}```\n{END}"


def current_block(readme: str) -> str | None:
    """The README section between the markers, as it is."""
    match = re.search(re.escape(START) + r".*?" + re.escape(END), readme, re.S)
    return match.group(0) if match else None


def main(argv: list[str]) -> int:
    check = "--check" in argv
    path = Path(next((a for a in argv if not a.startswith("--")), "README.md"))
    readme = path.read_text(encoding="utf-8")
    block = current_block(readme)
    if block is None:
        print(f"{path}: no {START} ... {END} markers; add them where the diagram goes")
        return 2
    if check:
        stale = block != readme_block()
        print(f"{path}: lifecycle diagram is {'stale' if stale else 'current'}")
        return 1 if stale else 0
    path.write_text(readme.replace(block, readme_block()), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
