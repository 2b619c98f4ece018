"""``pipe(n_process=2)`` with a real torch model: it finishes and gives what one process gives."""

import json
import subprocess
import sys

from elkit.threads import available_cores, set_threads, worker_threads
from tests.ner.test_span_ner import trained

SCRIPT = """
import json, sys
import torch
import elkit
torch.set_num_threads(2)
torch.ones(256, 256) @ torch.ones(256, 256)  # torch's thread pool is running before the workers start
nlp = elkit.load(sys.argv[1])
texts = json.loads(sys.argv[2])
def spans(docs):
    return [[(span.start, span.end, span.label) for span in doc.ents] for doc in docs]
single = spans(nlp.pipe(texts, batch_size=3))
multi = spans(nlp.pipe(texts, batch_size=3, n_process=2))
print(json.dumps({"single": single, "multi": multi}))
"""


def test_two_processes_with_a_torch_ner_model_match_one(tmp_path):
    nlp, _, docs = trained(steps=30)
    nlp.to_disk(tmp_path / "model")
    texts = [doc.text for doc in docs] * 3
    # a subprocess, so that a hang is a timeout (a failure), not a stuck test run
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "model"), json.dumps(texts)],
                          capture_output=True, text=True, timeout=600, check=True)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["multi"] == found["single"]
    assert any(found["single"])  # the model finds entities, so the comparison means something


def test_worker_threads_share_the_cores():
    cores = available_cores()
    assert worker_threads(1) == cores
    assert worker_threads(cores * 4) == 1
    assert sum(worker_threads(2) for _ in range(2)) <= max(cores, 2)


def test_set_threads_sets_torch():
    import torch

    before = torch.get_num_threads()
    try:
        assert set_threads(1) == 1 and torch.get_num_threads() == 1
    finally:
        set_threads(before)
