"""Device selection: the ``[nlp] device`` setting, ``--gpu-id``, and every torch component on its device.

No test here needs a GPU. Placement is checked on a fake device (`tests.fake_device`): the components are told to
run on it, and every tensor operation that would mix the device with the CPU, or read a device tensor with a bare
``.numpy()``, is recorded as it would fail on CUDA; the numbers themselves are the CPU's, so the results must
equal a CPU run's (exactly, but for fine-tuning a transformer: see the reranker's test).
"""

import numpy as np
import pytest
import torch

import elkit.linking.storage
import elkit.ner.component
from elkit.cli import main
from elkit.config import PipelineConfig
from elkit.devices import check_device_setting, device_setting, resolve_device, to_numpy
from elkit.encoders import TextEncoder
from elkit.errors import ConfigError
from elkit.linking import EntityLinker
from elkit.linking.reranker import CrossEncoderReranker, RerankItem
from elkit.ner import SpanNER, ZeroShotNER
from elkit.pipeline import Pipeline
from tests.fake_device import FAKE, FakeDevice, on_device
from tests.linking import support as linking_support
from tests.linking.test_general import doc_with, linker_with, small_kb
from tests.ner.support import blank, make_docs, tiny_transformer
from tests.ner.test_training import conll_text

NER = {"seed": 1, "hidden_width": 16, "encoder": {"architecture": "hash_cnn", "width": 16, "depth": 1,
                                                  "embed_size": 200, "lstm_depth": 1}}


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def two_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)


# --- the setting --------------------------------------------------------------------------------------------


def test_cpu_settings_resolve_to_the_cpu(no_cuda):
    for setting in ("cpu", None, torch.device("cpu")):
        assert resolve_device(setting) == torch.device("cpu")
    assert resolve_device("cuda:0", gpu_id=-1) == torch.device("cpu")  # --gpu-id -1 overrides the config


def test_cuda_without_cuda_is_a_clear_config_error(no_cuda):
    with pytest.raises(ConfigError) as caught:
        resolve_device("cuda:0")
    message = str(caught.value)
    assert "[nlp] device = 'cuda:0'" in message and "torch.cuda.is_available() is False" in message
    assert "available: cpu" in message
    with pytest.raises(ConfigError, match=r"^--gpu-id 0 asks for a CUDA GPU"):
        resolve_device("cpu", gpu_id=0)
    with pytest.raises(ConfigError, match="asks for a CUDA GPU"):
        resolve_device("cuda")


@pytest.mark.parametrize("setting", ["gpu", "cuda:x", "cuda:", "CUDA", "", "cuda:0:1", 0])
def test_badly_spelled_devices_are_config_errors(setting):
    with pytest.raises(ConfigError, match=r"^\[nlp\] device: must be \"cpu\", \"cuda\" or \"cuda:N\""):
        resolve_device(setting)
    with pytest.raises(ValueError):
        check_device_setting(setting)


def test_gpu_ids_below_minus_one_are_refused():
    assert device_setting(-1) == "cpu" and device_setting(3) == "cuda:3"
    with pytest.raises(ConfigError, match="--gpu-id must be -1"):
        resolve_device(gpu_id=-2)


def test_device_numbers_are_checked_against_the_machine(two_gpus):
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device("cuda") == torch.device("cuda", 1)  # the current device, made explicit
    assert resolve_device(gpu_id=0) == torch.device("cuda", 0)
    with pytest.raises(ConfigError) as caught:
        resolve_device("cuda:2")
    assert "has 2 CUDA devices; available: cpu, cuda:0, cuda:1" in str(caught.value)
    with pytest.raises(ConfigError, match="--gpu-id 5 asks for cuda:5"):
        resolve_device(gpu_id=5)


def test_the_config_checks_the_spelling_and_the_pipeline_the_machine(no_cuda):
    assert PipelineConfig.from_dict({"nlp": {"device": "cuda:0"}}).nlp.device == "cuda:0"
    assert PipelineConfig.from_dict({}).nlp.device == "cpu"
    with pytest.raises(ConfigError, match="nlp.device: .*must be"):
        PipelineConfig.from_dict({"nlp": {"device": "gpu"}})
    with pytest.raises(ConfigError, match="cuda:0"):
        Pipeline.from_config({"nlp": {"device": "cuda:0"}})
    assert Pipeline.from_config({"nlp": {"device": "cuda:0"}}, device="cpu").device == "cpu"


def test_to_numpy_detaches_and_copies_to_the_cpu():
    tensor = torch.ones(2, 3, requires_grad=True) * 2.0
    array = to_numpy(tensor)
    assert isinstance(array, np.ndarray) and array.shape == (2, 3) and (array == 2.0).all()


# --- placement on the fake device ------------------------------------------------------------------------------


@pytest.fixture
def saved_on_cpu(monkeypatch):
    """Record whether any safetensors file was written from a tensor on the device."""
    written = []

    def checking(save):
        def wrapped(tensors, *args, **kwargs):
            written.append(any(on_device(tensor) for tensor in tensors.values()))
            return save(tensors, *args, **kwargs)
        return wrapped

    for module in (elkit.ner.component, elkit.linking.storage):
        monkeypatch.setattr(module, "save_tensors", checking(module.save_tensors))
    return written


def same_scores(first, second):
    return all(np.array_equal(one, two) for left, right in zip(first, second, strict=True)
               for (_, one), (_, two) in zip(left.segments, right.segments, strict=True))


def test_span_ner_predicts_and_learns_on_its_device(saved_on_cpu):
    docs = make_docs()
    reference = SpanNER("ner", **NER)
    reference.initialize(lambda: docs)
    placed = SpanNER("ner", **NER).from_bytes(reference.to_bytes())
    texts = [blank(doc) for doc in docs]
    torch.manual_seed(5)
    reference.update(docs)
    expected = reference.predict(texts)
    reference.add_label("MISC")
    with FakeDevice() as fake:
        placed.to_device(FAKE)
        assert placed.device == FAKE and all(on_device(weight) for weight in placed.model.parameters())
        torch.manual_seed(5)
        placed.update(docs)
        found = placed.predict(texts)
        placed.add_label("MISC")  # a new label row is made on the device too
        placed.update(docs)
        placed.rehearse(texts)  # the teacher is a copy on the device
        data = placed.to_bytes()
        loaded = SpanNER("ner", **NER)
        loaded.to_device(FAKE)
        loaded.from_bytes(data)  # loaded onto the component's device
        assert all(on_device(weight) for weight in loaded.model.parameters())
        loaded.predict(texts)
    assert fake.violations == []
    assert fake.device_operations > 100 and fake.read_back >= 2
    assert same_scores(found, expected)  # the same numbers as on the CPU
    assert saved_on_cpu and not any(saved_on_cpu)  # weights are written from the CPU


def test_a_pipeline_gives_its_components_the_configured_device(monkeypatch, tmp_path, saved_on_cpu):
    def resolve(setting="cpu", gpu_id=None, **_):
        return FAKE if str(setting) in ("cuda:0", str(FAKE)) else torch.device("cpu")

    monkeypatch.setattr("elkit.pipeline.pipeline.resolve_device", resolve)
    config = {"nlp": {"pipeline": ["ner"], "device": "cuda:0"},
              "components": {"ner": {"factory": "elkit.SpanNER.v1", **NER}}}
    docs = make_docs()
    with FakeDevice() as fake:
        nlp = Pipeline.from_config(config)
        nlp.initialize(lambda: docs)
        assert nlp.get_pipe("ner").device == FAKE
        nlp.update(docs)
        predicted = [doc.ents for doc in nlp.pipe([blank(doc) for doc in docs])]
        nlp.to_disk(tmp_path / "model")
        nlp.to_device("cpu")
        assert nlp.device == "cpu" and not any(on_device(weight) for weight in nlp.get_pipe("ner").model.parameters())
    assert fake.violations == [] and fake.device_operations > 100
    assert saved_on_cpu and not any(saved_on_cpu)
    assert 'device = "cpu"' in (tmp_path / "model" / "config.toml").read_text(encoding="utf-8")
    assert nlp.config.nlp.device == "cpu"
    loaded = Pipeline.from_disk(tmp_path / "model")
    assert loaded.get_pipe("ner").device == torch.device("cpu")
    assert [doc.ents for doc in loaded.pipe([blank(doc) for doc in docs])] == predicted


@pytest.fixture(scope="module")
def vectors(tmp_path_factory):
    return str(linking_support.write_vectors(tmp_path_factory.mktemp("vectors")))


def test_entity_linker_scores_and_learns_on_its_device(vectors, saved_on_cpu):
    docs = linking_support.make_docs()
    trained = EntityLinker("linker", vectors=vectors)
    trained.initialize(lambda: docs, kb=linking_support.make_kb())
    trained.update(docs)
    reference, placed = (EntityLinker("linker", vectors=vectors).from_bytes(trained.to_bytes()) for _ in range(2))
    for linker in (reference, placed):
        linker.set_kb(linking_support.make_kb())
    torch.manual_seed(7)
    reference.update(docs)
    expected = reference.predict(linking_support.make_docs())
    with FakeDevice() as fake:
        placed.to_device(FAKE)
        assert all(on_device(weight) for weight in placed.model.parameters())
        torch.manual_seed(7)
        placed.update(docs)
        found = placed.predict(linking_support.make_docs())
        data = placed.to_bytes()
    assert fake.violations == [] and fake.device_operations > 20 and fake.read_back > 0
    assert saved_on_cpu and not any(saved_on_cpu)
    assert [[prediction.probabilities.tolist() for prediction in doc] for doc in found] == \
        [[prediction.probabilities.tolist() for prediction in doc] for doc in expected]
    again = EntityLinker("linker", vectors=vectors).from_bytes(data)
    assert again.device == torch.device("cpu") and not any(on_device(weight) for weight in again.model.parameters())


def test_general_linker_scores_on_its_device():
    texts = [("Angela Merkel visited Berlin.", [("Angela Merkel", "person", ""), ("Berlin", "location", "")]),
             ("Jaguar makes cars.", [("Jaguar", "organization", "")])]
    expected = linker_with(small_kb()).predict([doc_with(*text) for text in texts])
    linker = linker_with(small_kb())
    with FakeDevice() as fake:
        linker.to_device(FAKE)
        found = linker.predict([doc_with(*text) for text in texts])
        assert all(on_device(weight) for weight in linker.scorer.parameters())
    assert fake.violations == [] and fake.device_operations > 0 and fake.read_back > 0
    assert [[prediction.probabilities.tolist() for prediction in doc] for doc in found] == \
        [[prediction.probabilities.tolist() for prediction in doc] for doc in expected]


def test_zero_shot_ner_and_its_transformer_run_on_their_device(tmp_path):
    folder = tiny_transformer(tmp_path / "bert")
    settings = {"encoder": {"model": str(folder), "width": 32}, "hidden_width": 32, "max_width": 4, "window": 12,
                "window_overlap": 4, "labels": {"PER": "a person", "LOC": "a place"}, "heads": "random"}
    reference = ZeroShotNER(**settings)
    reference.initialize()
    placed = ZeroShotNER(**settings).from_bytes(reference.to_bytes())
    docs = make_docs()
    texts = [blank(doc) for doc in docs]
    complete_for = [{"PER", "LOC"}] * len(docs)
    torch.manual_seed(3)
    reference.update(docs, labels=["PER", "LOC", "ORG"], label_sets=complete_for)
    expected = reference.predict(texts)
    with FakeDevice() as fake:
        placed.to_device(FAKE)
        torch.manual_seed(3)
        placed.update(docs, labels=["PER", "LOC", "ORG"], label_sets=complete_for)
        found = placed.predict(texts)
        placed.rehearse(texts)
        placed.calibrate(docs, labels=["PER", "LOC", "ORG"])
        placed.to_bytes()
    assert fake.violations == [] and fake.device_operations > 100 and fake.read_back > 0
    assert same_scores(found, expected)


def test_text_encoder_and_reranker_run_on_their_device(tmp_path):
    folder = tiny_transformer(tmp_path / "bert")
    texts = ["paris is the capital of france", "apple", "the apple of google"]
    expected = TextEncoder(folder).encode(texts)
    items = [RerankItem("[ paris ] is in france", ["paris france", "paris texas"], np.log([0.6, 0.4]), gold=0),
             RerankItem("the [ apple ] fell", ["apple fruit", "apple company"], np.log([0.5, 0.5]), gold=0)]
    reference = CrossEncoderReranker(folder, max_length=24)
    reference.fit(items, items, seed=1)
    placed = CrossEncoderReranker(folder, max_length=24, device=FAKE)
    with FakeDevice() as fake:
        encoder = TextEncoder(folder)
        encoder.to_device(FAKE)
        found = encoder.encode(texts)
        placed.fit(items, items, seed=1)
        scores = placed.scores(items)
        placed.to_disk(tmp_path / "reranker")
    assert fake.violations == [] and fake.device_operations > 100 and fake.read_back > 0
    assert np.array_equal(found, expected)
    # transformers branches on the device type in places, so fine-tuning on the fake device is close to the CPU
    # run but not bit-equal to it (its inference above is)
    assert placed.weights == pytest.approx(reference.weights, rel=1e-2)
    for one, two in zip(scores, reference.scores(items), strict=True):
        assert one == pytest.approx(two, rel=1e-2, abs=1e-3)


# --- the command line ------------------------------------------------------------------------------------------

SENTENCIZER = '[nlp]\npipeline = ["sentencizer"]\ndevice = "{device}"\n\n' \
              '[components.sentencizer]\nfactory = "elkit.Sentencizer.v1"\n'


def run(capsys, *arguments):
    code = main([str(argument) for argument in arguments])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def ner_model(tmp_path):
    nlp = Pipeline()
    ner = nlp.add_pipe("elkit.SpanNER.v1", name="ner", config=NER)
    docs = make_docs()
    ner.initialize(lambda: docs)
    nlp.to_disk(tmp_path / "model")
    texts = tmp_path / "texts.txt"
    texts.write_text("Tim Cook runs Apple .\nParis is nice .\n", encoding="utf-8")
    gold = tmp_path / "gold.conll"
    gold.write_text(conll_text(), encoding="utf-8")
    return tmp_path / "model", texts, gold


def test_gpu_id_on_a_machine_without_cuda_is_a_one_line_error(no_cuda, ner_model, tmp_path, capsys):
    model, texts, gold = ner_model
    config = tmp_path / "ner.toml"
    config.write_text('[nlp]\npipeline = ["ner"]\n\n[components.ner]\nfactory = "elkit.SpanNER.v1"\n',
                      encoding="utf-8")
    commands = [
        ("apply", model, texts, tmp_path / "out.jsonl"),
        ("evaluate", model, gold),
        ("link", texts, "--output", tmp_path / "linked.jsonl", "--model", model),
        ("train", config, "--train", gold, "--dev", gold, "--output", tmp_path / "trained"),
    ]
    for command in commands:
        code, _, err = run(capsys, *command, "--gpu-id", "0")
        assert code == 2, command
        assert err.startswith("error: --gpu-id 0 asks for a CUDA GPU") and "Traceback" not in err, command
    assert not (tmp_path / "trained").exists()
    code, _, err = run(capsys, "apply", model, texts, tmp_path / "out.jsonl", "--gpu-id", "-2")
    assert code == 2 and "Traceback" not in err


def test_gpu_id_minus_one_runs_on_the_cpu_whatever_the_config_says(no_cuda, ner_model, tmp_path, capsys):
    model, texts, gold = ner_model
    output = tmp_path / "out.jsonl"
    code, out, _ = run(capsys, "apply", model, texts, output, "--gpu-id", "-1")
    assert code == 0 and "wrote 2 documents" in out
    code, out, _ = run(capsys, "evaluate", model, gold, "--gpu-id", "-1")
    assert code == 0 and "ents_f" in out
    config = tmp_path / "gpu.toml"
    config.write_text(SENTENCIZER.format(device="cuda:0"), encoding="utf-8")
    code, _, err = run(capsys, "apply", config, texts, output)
    assert code == 2 and "[nlp] device = 'cuda:0' asks for a CUDA GPU" in err
    code, out, _ = run(capsys, "apply", config, texts, output, "--gpu-id", "-1")
    assert code == 0 and "wrote 2 documents" in out
