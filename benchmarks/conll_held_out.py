"""Split CoNLL-2003 train into the documents to learn from and the documents held out for choosing.

The split is the linker's (`elkit.linking.selection.held_out_split`, 10% in runs of ten consecutive documents,
seed 0). AIDA's training documents are CoNLL-2003's, in the same order, so an NER model trained on the first file
and checkpointed on the second never sees testa (CoNLL-2003 valid) while it is trained or chosen, and the same
documents are held out from the NER model and the linker.

    .venv/bin/python benchmarks/conll_held_out.py [--train PATH] [--output DIR] [--share 0.1] [--seed 0]

Writes DIR/learn.txt and DIR/held.txt (CoNLL lines as they are, each document with its -DOCSTART- line) and
prints the two paths.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from elkit.linking.selection import held_out_split

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "conll2003"


def documents(path: Path) -> list[str]:
    """The file's documents as text blocks, each starting at its -DOCSTART- line."""
    blocks: list[list[str]] = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("-DOCSTART-") or not blocks:
                blocks.append([])
            blocks[-1].append(line)
    return ["".join(block) for block in blocks]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=Path, default=DATA / "train.txt")
    parser.add_argument("--output", type=Path, default=Path("/tmp/elkit-bench/conll_held_out"))
    parser.add_argument("--share", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    blocks = documents(args.train)
    learn, held = held_out_split(blocks, args.share, args.seed)
    args.output.mkdir(parents=True, exist_ok=True)
    for name, part in (("learn", learn), ("held", held)):
        text = "".join(block if block.endswith("\n\n") else block.rstrip("\n") + "\n\n" for block in part)
        (args.output / f"{name}.txt").write_text(text, encoding="utf-8")
        print(f"{args.output / f'{name}.txt'}: {len(part)} documents")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
