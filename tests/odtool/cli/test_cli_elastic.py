"""One elastic run, every budget: freeze --budget / --budgets cut it, export / size-check --profile use a
device's model budget (issue "One student for every memory budget")."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from odtool.cli.main import app
from toolchain.artifact.bundle import Bundle

runner = CliRunner()
K, SUBSPACES = 4, 2  # 2-bit columns over 2 subspaces: capacity binds on tiny data, so cuts rank


@pytest.fixture(scope="module")
def elastic_run(tmp_path_factory):
    """A seeded tiny elastic student (and its data and teacher) whose table has 8 columns."""
    from toolchain.data.pipeline import synth_dataset
    from toolchain.data.synth import SynthConfig
    from toolchain.training.build import Deploy
    from toolchain.training.lifecycle import train_run

    root = tmp_path_factory.mktemp("elastic")
    synth_dataset(SynthConfig(n_items=400, n_sessions=2500, seed=1), root / "data")
    train_run("teacher", root / "teacher", data=root / "data", preset="tiny", flags={"train": {"epochs": 3}})
    table = {"k": K, "subspaces": SUBSPACES, "m": 8, "lead": SUBSPACES}  # the plain nested table
    train_run("student", root / "elastic", data=root / "data", preset="tiny", teacher=root / "teacher",
              flags={"train": {"epochs": 2}, "item_table": table}, deploy=Deploy(elastic=True, budget=1 << 30))
    return root


def _train_beside(elastic_run, name: str, epochs: int, **table):
    """A tiny elastic student of ``elastic_run``'s data and teacher, 6 columns with ``lead = 1``
    (its first column spans both subspaces) and ``table``'s settings; returns its run directory."""
    from toolchain.training.build import Deploy
    from toolchain.training.lifecycle import train_run

    table = {"k": K, "subspaces": SUBSPACES, "m": 6, "lead": 1, **table}
    train_run("student", elastic_run / name, data=elastic_run / "data", preset="tiny",
              teacher=elastic_run / "teacher", flags={"train": {"epochs": epochs}, "item_table": table},
              deploy=Deploy(elastic=True, budget=1 << 30))
    return elastic_run / name


@pytest.fixture(scope="module")
def lead_run(elastic_run):
    """The same tiny elastic student with ``lead = 1``: its first column spans both subspaces; each
    smaller cut has its own first stage (``cut_codebooks``)."""
    return _train_beside(elastic_run, "lead", 2, cut_codebooks=True, cut_draw="covering")


def _freeze(*args: str) -> tuple[int, str]:
    r = runner.invoke(app, ["freeze", *args])
    return r.exit_code, r.output


def _export_each_with_parity(fam, members, tmp_path) -> None:
    """Every member of the family exports in all three formats, each agreeing with the eager model."""
    for m in members:
        r = runner.invoke(app, ["export", str(fam / m["name"]), "--format", "all", "--out", str(tmp_path / "x"),
                                "--name", f"cut{m['cut']['columns']}", "--sessions", "8", "--json"])
        assert r.exit_code == 0, r.output
        assert all(rep["parity"]["ok"] for rep in json.loads(r.stdout))


def _cut_bytes(run) -> list[int]:
    """Deployed bytes of each cut 1..M of the run (what a budget is compared with)."""
    from toolchain.artifact.elastic import cut_bytes
    from toolchain.artifact.freeze import FreezeOptions
    from toolchain.artifact.quantize import FloatStorage
    from toolchain.training.build import load_trained

    _, model = load_trained(run)
    opts = FreezeOptions(encoder_storage=FloatStorage.int8)
    return [cut_bytes(model, c, opts) for c in range(1, model.items.m + 1)]


def test_every_cut_fits_its_budget_byte_exactly_and_a_byte_less_gives_the_cut_below(elastic_run, tmp_path):
    sizes = _cut_bytes(elastic_run / "elastic")
    assert sizes == sorted(set(sizes))  # every column costs bytes
    for cut in (1, 5, 8):
        code, out = _freeze(str(elastic_run / "elastic"), "--out", str(tmp_path / f"c{cut}"),
                            "--budget", str(sizes[cut - 1]), "--eval-split", "none")
        assert code == 0, out
        m = Bundle.load(tmp_path / f"c{cut}").manifest
        assert m["deployed_bytes"] == sizes[cut - 1]
        assert m["cut"]["columns"] == cut and m["cut"]["of"] == 8 and "P@10" in m["cut"]["valid"]
        spec = m["model"]["spec"]["item_table"]
        assert spec["m"] == cut and spec["elastic"] is False and spec["structure"] == "nested"
    code, _ = _freeze(str(elastic_run / "elastic"), "--out", str(tmp_path / "below"), "--budget",
                      str(sizes[4] - 1), "--eval-split", "none")
    assert code == 0 and Bundle.load(tmp_path / "below").manifest["cut"]["columns"] == 4


def test_a_budget_below_the_smallest_cut_names_it(elastic_run, tmp_path):
    smallest = _cut_bytes(elastic_run / "elastic")[0]
    code, out = _freeze(str(elastic_run / "elastic"), "--out", str(tmp_path / "x"), "--budget", str(smallest - 1))
    assert code != 0 and "below this run's smallest cut" in out and f"{smallest:,} bytes" in out
    assert "Traceback" not in out and not (tmp_path / "x").exists()


def test_a_cut_below_the_subspaces_warns_and_names_the_budget_that_codes_them_all(elastic_run, tmp_path):
    sizes = _cut_bytes(elastic_run / "elastic")
    code, out = _freeze(str(elastic_run / "elastic"), "--out", str(tmp_path / "c1"), "--budget", str(sizes[0]),
                        "--eval-split", "none")
    flat = " ".join(out.split())
    assert code == 0 and "leaves 1 of the table's 2 subspaces without a code" in flat, out
    assert f"{sizes[SUBSPACES - 1]:,} bytes" in flat
    code, out = _freeze(str(elastic_run / "elastic"), "--out", str(tmp_path / "c2"), "--budget",
                        str(sizes[SUBSPACES - 1]), "--eval-split", "none")
    assert code == 0 and "subspaces without a code" not in " ".join(out.split())


@pytest.mark.slow
def test_a_family_of_cuts_is_nested_and_every_member_exports_with_parity(elastic_run, tmp_path):
    sizes = _cut_bytes(elastic_run / "elastic")
    budgets = [sizes[c - 1] for c in (1, 2, 4, 8)]
    fam = tmp_path / "family"
    code, out = _freeze(str(elastic_run / "elastic"), "--out", str(fam), "--budgets",
                        ",".join(map(str, budgets)), "--eval-split", "none")
    assert code == 0, out
    doc = json.loads((fam / "family.json").read_text())
    members = doc["members"]
    assert [m["cut"]["columns"] for m in members] == [1, 2, 4, 8]
    assert [m["deployed_bytes"] for m in members] == budgets
    ndcg = [m["cut"]["valid"]["NDCG@10"] for m in members]
    assert all(small <= large + 0.02 for small, large in zip(ndcg, ndcg[1:])), ndcg  # 2 points: the noise
    assert ndcg[-1] > ndcg[0] + 0.02, ndcg  # and a real gap from 2 bits to 16 bits per item
    _export_each_with_parity(fam, members, tmp_path)


def _profile(tmp_path, name: str, budget) -> str:
    from android_harness.device_profile import BUILTIN_DIR

    d = json.loads((BUILTIN_DIR / "go-phone.json").read_text())
    d.update(name=name, model_budget=budget)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(d))
    return str(path)


def test_profile_budgets_reach_export_and_size_check(elastic_run, tmp_path):
    sizes = _cut_bytes(elastic_run / "elastic")
    fam = tmp_path / "family"
    code, out = _freeze(str(elastic_run / "elastic"), "--out", str(fam), "--budgets",
                        f"{sizes[0]},{sizes[3]},{sizes[7]}", "--eval-split", "none")
    assert code == 0, out
    # a phone whose budget is exactly the 4-column member's .pte: the 8-column member fits by its
    # artifact's parts but not once exported (the program rides along), so it gives way
    first = runner.invoke(app, ["export", str(fam / str(sizes[3])), "--out", str(tmp_path / "probe"),
                                "--sessions", "4", "--json"])
    assert first.exit_code == 0, first.output
    pte_bytes = json.loads(first.stdout)[0]["bytes"]
    phone = _profile(tmp_path, "phone", pte_bytes)
    r = runner.invoke(app, ["export", str(fam), "--profile", phone, "--out", str(tmp_path / "x"), "--sessions", "4",
                            "--json"])
    assert r.exit_code == 0, r.output
    (rep,) = json.loads(r.stdout)
    pte = tmp_path / "x" / "family.pte"
    report = json.loads((tmp_path / "x" / "family.pte.report.json").read_text())
    assert report["model"]["artifact"].endswith(f"/{sizes[3]}") and rep["bytes"] == pte_bytes
    ok = runner.invoke(app, ["size-check", str(pte), "--profile", phone, "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)[0]["budget_source"] == f"profile {phone}"
    watch = _profile(tmp_path, "watch", pte_bytes - 1)
    over = runner.invoke(app, ["size-check", str(pte), "--profile", watch])
    assert over.exit_code == 1 and "over budget" in over.output
    none = _profile(tmp_path, "nothing", 10)
    r = runner.invoke(app, ["export", str(fam), "--profile", none, "--out", str(tmp_path / "y")])
    assert r.exit_code != 0 and "no artifact of the family" in r.output and "Traceback" not in r.output


def test_a_profile_without_a_budget_and_a_family_without_a_choice_are_clear_errors(elastic_run, tmp_path):
    fam = tmp_path / "family"
    assert _freeze(str(elastic_run / "elastic"), "--out", str(fam), "--budgets", "1MiB", "--eval-split", "none")[0] == 0
    from android_harness.device_profile import BUILTIN_DIR

    plain = json.loads((BUILTIN_DIR / "go-phone.json").read_text())
    plain.pop("model_budget")
    plain["name"] = "nobudget"
    (tmp_path / "nobudget.json").write_text(json.dumps(plain))
    r = runner.invoke(app, ["size-check", str(fam / "1MiB"), "--profile", str(tmp_path / "nobudget.json")])
    assert r.exit_code != 0 and "sets no model_budget" in r.output
    r = runner.invoke(app, ["export", str(fam)])
    assert r.exit_code != 0 and "family of artifacts" in r.output and "--profile" in r.output


def test_budgets_need_an_elastic_run(trained_tiny, tmp_path):
    code, out = _freeze(str(trained_tiny["deployable"]), "--out", str(tmp_path / "f"), "--budgets", "1MiB")
    assert code != 0 and "not an elastic run" in out and "--elastic" in out
    code, out = _freeze(str(trained_tiny["deployable"]), "--out", str(tmp_path / "g"), "--budget", "1KiB")
    assert code != 0 and "it is not an elastic run, so it cannot be cut" in out


def test_an_elastic_run_trains_the_whole_table_and_small_first_cuts_by_default(elastic_run):
    import json

    table = json.loads((elastic_run / "elastic" / "config.json").read_text())["item_table"]
    assert table["elastic"] and table["anchor_full"] is True and table["cut_draw"] == "small-first"
    assert table["cut_codebooks"] is True  # each smaller cut has its own first stage
    assert table["cut_encoders"] is True  # ... and its own encoder


def test_a_lead_run_cuts_to_one_column_that_codes_every_dimension_and_exports_with_parity(lead_run, tmp_path):
    from toolchain.training.build import load_trained

    sizes = _cut_bytes(lead_run)
    plain = _cut_bytes(lead_run.parent / "elastic")
    deltas = load_trained(lead_run)[1].items.cut_codebook_deltas
    assert deltas.shape[0] == 5 and deltas[0].abs().sum() > 0  # cut 1 trained its own first stage
    assert sizes == sorted(set(sizes)) and sizes[0] > plain[0]  # the lead column has S codebook rows
    fam = tmp_path / "family"
    code, out = _freeze(str(lead_run), "--out", str(fam), "--budgets", f"{sizes[0]},{sizes[5]}")
    assert code == 0, out
    assert "subspaces without a code" not in " ".join(out.split())
    members = json.loads((fam / "family.json").read_text())["members"]
    assert [m["cut"]["columns"] for m in members] == [1, 6]
    assert [m["deployed_bytes"] for m in members] == [sizes[0], sizes[5]]
    assert members[0]["cut"]["valid"]["NDCG@10"] <= members[1]["cut"]["valid"]["NDCG@10"] + 0.02
    spec = Bundle.load(fam / members[0]["name"]).manifest["model"]["spec"]["item_table"]
    assert spec["m"] == 1 and spec["lead"] == 1 and spec["subspaces"] == SUBSPACES
    _export_each_with_parity(fam, members, tmp_path)


@pytest.fixture(scope="module")
def int4_run(elastic_run):
    """The lead run's table with int4 codebooks (and so an int8 rotation)."""
    return _train_beside(elastic_run, "int4", 1, cut_codebooks=True, codebook_storage="int4")


def test_int4_codebooks_halve_the_codebook_bytes_and_every_cut_freezes_byte_exactly_and_exports(int4_run, tmp_path):
    from toolchain.training.build import load_trained

    _, model = load_trained(int4_run)
    table = model.items
    sizes = _cut_bytes(int4_run)
    # per column: the codes and K codewords of d = dim / S values, two a byte, and a fp32 scale each
    assert sizes[2] - sizes[1] == (table.n_items + 1) + K * (table.sub // 2 + 4)
    fam = tmp_path / "family"
    code, out = _freeze(str(int4_run), "--out", str(fam), "--budgets", f"{sizes[0]},{sizes[5]}")
    assert code == 0, out
    members = json.loads((fam / "family.json").read_text())["members"]
    assert [m["deployed_bytes"] for m in members] == [sizes[0], sizes[5]]
    bundle = Bundle.load(fam / members[1]["name"])
    assert bundle.manifest["parts"]["codebooks"]["storage"] == "int4"
    assert bundle.manifest["parts"]["rotation"]["storage"] == "int8"
    assert bundle.tensors("codebooks")["values"].dtype.name == "uint8"
    _export_each_with_parity(fam, members, tmp_path)


@pytest.fixture(scope="module")
def encoders_run(elastic_run):
    """The lead run's table where each cut also has its own encoder correction (``cut_encoders``)."""
    return _train_beside(elastic_run, "encoders", 2, cut_codebooks=True, cut_encoders=True)


def test_cut_encoders_train_per_cut_and_each_cut_freezes_its_own_encoder_exactly(encoders_run, tmp_path):
    import torch

    from toolchain.artifact.elastic import cut_model
    from toolchain.artifact.freeze import encoder_as_stored
    from toolchain.artifact.load import load_artifact
    from toolchain.models.cut_encoders import folded_encoder_state, has_cut_encoders
    from toolchain.training.build import load_trained

    _, model = load_trained(encoders_run)
    assert has_cut_encoders(model)
    qkv = model.blocks[0].att.qkv.parametrizations.weight
    assert qkv[0].deltas.shape[0] == 5 and qkv[0].deltas[0].abs().sum() > 0  # cut 1 trained its own encoder
    best = json.loads((encoders_run / "best.json").read_text())["valid"]["cuts"]
    sizes = _cut_bytes(encoders_run)
    fam = tmp_path / "family"
    code, out = _freeze(str(encoders_run), "--out", str(fam), "--budgets", f"{sizes[0]},{sizes[3]},{sizes[5]}")
    assert code == 0, out
    members = json.loads((fam / "family.json").read_text())["members"]
    assert [m["deployed_bytes"] for m in members] == [sizes[0], sizes[3], sizes[5]]
    items = torch.randint(1, model.items.n_items + 1, (6, 5), generator=torch.Generator().manual_seed(0))
    lengths = torch.tensor([5, 1, 3, 2, 4, 5])
    with model.items.at_cut(model.items.m):
        shared = folded_encoder_state(model)  # the encoder every cut would share without cut_encoders

    def scores(m):
        with torch.no_grad(), encoder_as_stored(m, "int8"):
            return m.items.score(m.encode(items, lengths))

    for m in members:
        cut = m["cut"]["columns"]
        got = scores(load_artifact(fam / m["name"])[2])
        assert torch.allclose(got, scores(cut_model(model, cut)), atol=1e-5), cut  # the cut's own encoder, folded
        if cut < model.items.m:
            plain = cut_model(model, cut)
            plain.load_state_dict(shared, strict=False)
            assert (got - scores(plain)).abs().max() > 1e-3  # ... not the shared one
        if str(cut) in best:  # the cut validated in training is the cut frozen
            assert m["cut"]["valid"]["NDCG@10"] == pytest.approx(best[str(cut)]["NDCG@10"], abs=0.02)
    _export_each_with_parity(fam, members, tmp_path)
