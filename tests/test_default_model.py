"""The default model's recipe: the loss, the data rendering, and a short real training run."""

from __future__ import annotations

import dataclasses
import json
import random

import pytest
import torch

from research.default_model import data
from research.default_model.recipe import build_tokenizer, run
from research.default_model.train import batch_tensors, corrupt, drill_targets, masked_diffusion_loss


def test_loss_is_llada_sft_objective() -> None:
    logits = torch.zeros(2, 4, 8)
    targets = torch.tensor([[1, 2, 3, 4], [5, 6, 7, 0]])
    masked = torch.tensor([[True, False, True, False], [True, True, True, True]])
    maskable = torch.ones(2, 4, dtype=torch.bool)
    rate = torch.tensor([0.5, 1.0])
    # uniform logits: CE = log 8 per masked token; rows: 2 log8 / 0.5 / 4 and 4 log8 / 1 / 4
    log8 = torch.log(torch.tensor(8.0)).item()
    assert masked_diffusion_loss(logits, targets, masked, rate, maskable) == pytest.approx((log8 + log8) / 2)
    half = torch.tensor([[True, True, False, False], [True, True, True, True]])  # row 0: 2 maskable tokens
    assert masked_diffusion_loss(logits, targets, masked & half, rate, half) == \
        pytest.approx((log8 / 0.5 / 2 + log8) / 2)


def test_unknown_loss_weighting_is_refused_by_name(tmp_path) -> None:
    from research.default_model.recipe import RECIPE
    from research.default_model.train import train

    recipe = dataclasses.replace(RECIPE, weighting="1/t")
    with pytest.raises(ValueError, match="unknown weighting '1/t'; valid: elbo, token"):
        train(recipe, None, lambda *a: [], str(tmp_path))
    recipe = dataclasses.replace(RECIPE, types_skip_punctuation=True)
    with pytest.raises(ValueError, match="types_skip_punctuation=True changes the previous-token types, which are off"):
        train(recipe, None, lambda *a: [], str(tmp_path))


def test_corruption_rate_follows_t_inside_the_maskable_region() -> None:
    tokens = torch.full((4000, 32), 7)
    maskable = torch.zeros(4000, 32, dtype=torch.bool)
    maskable[:, 8:] = True
    noisy, masked, rate = corrupt(tokens, maskable, 1, 1e-3, torch.Generator().manual_seed(0))
    assert ((noisy == 1) == masked).all() and not masked[:, :8].any()
    assert rate.min() >= 1e-3 and rate.max() <= 1
    assert masked[:, 8:].float().mean(1).sub(rate).abs().mean() < 0.08
    assert masked[:, 8:].float().mean() == pytest.approx(0.5, abs=0.02)


@pytest.fixture(scope="module")
def name_tokenizer():
    """The default model's tokenizer recipe (1,024 tokens: every name part one token)."""
    return build_tokenizer(data.corpus(random.Random(0), documents_per_task=60), 1024)


def test_tokenizer_keeps_every_name_part_one_token(name_tokenizer) -> None:
    from lm_eval_mdlm.tasks import vocab

    tokenizer = name_tokenizer
    for first in vocab.FIRST_NAMES:
        assert len(tokenizer.tokenize(f'["{first}')) == 2, first
    for last in vocab.LAST_NAMES:
        assert len(tokenizer.tokenize(f" {last}")) == 1, last
    text = '["Mary Smith", "John Lee"]'
    assert tokenizer.decode(tokenizer(text).input_ids) == text


@pytest.fixture(scope="module")
def person_tokenizer(name_tokenizer):
    """The same tokenizer with one token per Waiting Line person added (Recipe.person_tokens)."""
    from research.default_model.recipe import add_person_tokens

    tokenizer = copy_with(name_tokenizer, [])
    add_person_tokens(tokenizer)
    return tokenizer


def test_person_tokens_make_each_listed_person_one_token(name_tokenizer, person_tokenizer) -> None:
    from research.default_model.recipe import add_person_tokens
    from lm_eval_mdlm.tasks import vocab

    assert len(person_tokenizer) == len(name_tokenizer) + len(vocab.PEOPLE) == len(name_tokenizer) + 3600
    text = '["Mary Smith", "John Lee"]'
    assert person_tokenizer.tokenize(text) == ['["', "Mary Smith", '",', 'Ġ"', "John Lee", '"]']
    assert person_tokenizer.decode(person_tokenizer(text).input_ids) == text
    assert person_tokenizer.convert_tokens_to_ids(vocab.PEOPLE[0]) == len(name_tokenizer)  # ids in PEOPLE order
    add_person_tokens(person_tokenizer)  # adding again changes nothing
    assert len(person_tokenizer) == len(name_tokenizer) + 3600
    # a drill on last names finds no target in a list of person tokens: refused, not trained on nothing
    rows = data.Sampler(person_tokenizer)("bind3", random.Random(0), 4)
    with pytest.raises(ValueError, match="a drill row has none of its target tokens in its answer"):
        drill_targets(person_tokenizer, rows, batch_tensors(person_tokenizer, rows, 32)[2])


def test_warm_start_gives_person_tokens_their_parts_and_an_identity(name_tokenizer, person_tokenizer,
                                                                     tmp_path) -> None:
    """A checkpoint without person tokens gains their rows; the old vocabulary's function is unchanged; each
    person's row = share x (its name parts' rows) + a random direction of a name part's norm, so a mix of two
    people scores both of them above their cross combinations (the sum of parts alone ties them)."""

    from research.default_model.recipe import RECIPE
    from research.default_model.train import build_model, train

    small = dict(hidden=32, layers=1, heads=2, intermediate=64, seed=0)
    base = build_model(dataclasses.replace(RECIPE, **small), name_tokenizer).eval()
    base.save_pretrained(tmp_path / "base")
    recipe = dataclasses.replace(RECIPE, **small, init_from=str(tmp_path / "base"), person_tokens=True)
    model = build_model(recipe, person_tokenizer).eval()
    old = len(name_tokenizer)
    assert model.config.vocab_size == len(person_tokenizer) == old + 3600
    ids = name_tokenizer('["Mary", " Smith"', return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.allclose(model(ids).logits[..., :old], base(ids).logits, atol=1e-6)
    embeddings, bias = model.get_input_embeddings().weight.detach(), model.cls.predictions.bias.detach()
    part = {text: name_tokenizer(text, add_special_tokens=False).input_ids[0]
            for text in ("Mary", " Smith", "John", " Lee")}
    mary_smith = person_tokenizer.convert_tokens_to_ids("Mary Smith")
    own = embeddings[mary_smith] - 0.3 * (embeddings[part["Mary"]] + embeddings[part[" Smith"]])
    norms = embeddings[list(part.values())].norm(dim=1)
    assert 0.5 * norms.min() < own.norm() < 2 * norms.max()
    assert bias[mary_smith] == pytest.approx(((bias[part["Mary"]] + bias[part[" Smith"]]) / 2).item())
    people = person_tokenizer.convert_tokens_to_ids(["Mary Smith", "John Lee", "Mary Lee", "John Smith"])
    scores = embeddings[people] @ (embeddings[people[0]] + embeddings[people[1]])
    assert scores[:2].min() > scores[2:].max()
    # tokens that are not people cannot be initialised from a trained checkpoint
    odd = copy_with(name_tokenizer, ["Zyx Wvu"])
    with pytest.raises(ValueError, match="not Waiting Line people .*'Zyx Wvu'"):
        build_model(recipe, odd)
    with pytest.raises(ValueError, match="person_tokens=True with previous_token_types=True"):
        train(dataclasses.replace(recipe, previous_token_types=True), person_tokenizer, lambda *a: [], str(tmp_path))


def copy_with(tokenizer, added: list[str]):
    """A copy of ``tokenizer`` with ``added`` tokens."""
    import copy

    tokenizer = copy.deepcopy(tokenizer)
    tokenizer.add_tokens(added)
    return tokenizer


def test_curriculum_stages_render_echoes_zero_shot_and_one_shot_prompts() -> None:
    from lm_eval_mdlm.metrics.lists import parse_list

    tokenizer = build_tokenizer(data.corpus(random.Random(0), documents_per_task=20), 600)
    sampler, rng = data.Sampler(tokenizer), random.Random(3)
    for prompt, answer, targets in sampler("echo3", rng, 50):
        assert prompt == f"<|user|>\n{answer}\n<|assistant|>\n" and 1 <= len(parse_list(answer)) <= 3
        assert targets is None
    zero, one = sampler("all0", rng, 40), sampler("all", rng, 40)
    assert all(e.prompt.count("<|user|>") == 1 for e in zero) and all(e.prompt.count("<|user|>") == 2 for e in one)
    assert {len(query_people(e)) for e in sampler("hard56", rng, 30)} == {5, 6}  # the longest lists only
    with pytest.raises(ValueError, match="unknown curriculum stage 'echo9'.*echo1"):
        sampler("echo9", rng, 1)


def query_people(example) -> list[str]:
    """The people of a one-shot Waiting Line prompt's question (its last list; the example's list comes first)."""
    from lm_eval_mdlm.metrics.lists import parse_list

    return parse_list(next(line for line in example.prompt.split("\n")[::-1] if line.startswith("[")))


def test_binding_drill_shows_first_names_and_targets_every_last_name(name_tokenizer) -> None:
    """bind<n>: the answer is the prompt's people reordered, and exactly its last-name tokens are targets."""
    from lm_eval_mdlm.metrics.lists import parse_list
    from lm_eval_mdlm.tasks import vocab

    tokenizer = name_tokenizer
    sampler, rng = data.Sampler(tokenizer), random.Random(5)
    examples = sampler("bind3", rng, 64)
    orders = set()
    for prompt, answer, targets in examples:
        people = parse_list(prompt.split("\n")[1])
        assert sorted(parse_list(answer)) == sorted(people) and 2 <= len(people) <= 3
        assert targets == data.LAST_NAME_TOKENS
        orders.add(parse_list(answer) == people)
    assert orders == {True, False}  # reordered, not always the same way
    ids, _, answers = batch_tensors(tokenizer, examples, 32)
    rows, only = drill_targets(tokenizer, examples, answers)
    assert rows.all()
    last_ids = {tokenizer.convert_tokens_to_ids(tokenizer.tokenize(f" {name}")[0]) for name in vocab.LAST_NAMES}
    assert only.equal(torch.isin(answers, torch.tensor(sorted(last_ids))))
    assert only.sum(1).tolist() == [len(parse_list(e.answer)) for e in examples]  # one per person
    mixed = sampler("bindhard+waiting_line", rng, 64)
    rows, only = drill_targets(tokenizer, mixed, batch_tensors(tokenizer, mixed, 32)[2])
    assert rows.tolist() == [e.targets is not None for e in mixed] and 0 < rows.sum() < 64
    assert not only[~rows].any() and only[rows].any(1).all()
    assert drill_targets(tokenizer, sampler("echo3", rng, 4), answers[:4]) is None
    short = sampler("bindrandom23", rng, 32)  # bind<task stage>: that stage's documents, last names as targets
    assert all(e.targets == data.LAST_NAME_TOKENS for e in short)
    queries = [query_people(e) for e in short]
    assert {len(people) for people in queries} == {2, 3}
    assert all(any(word in e.prompt.split("<|user|>")[-1] for word in ("shuffle", "random")) for e in short)
    ordered = sampler("firstordered", rng, 32)  # first<task stage>: first names as targets; order-keeping operations
    assert all(e.targets == data.FIRST_NAME_TOKENS for e in ordered)
    assert not any(word in e.prompt.split("<|user|>")[-1] for e in ordered for word in ("shuffle", "reverse", "sort"))
    answers = batch_tensors(tokenizer, ordered, 48)[2]
    targets = drill_targets(tokenizer, ordered, answers)[1]
    targeted = [[tokenizer.decode([t]) for t in row[mask]] for row, mask in zip(answers, targets)]
    assert targeted == [[person.split()[0] for person in parse_list(e.answer)] for e in ordered]


def test_newcomer_drill_targets_only_the_new_person(person_tokenizer) -> None:
    """``newarrivals`` rows: insert/replace_random prompts whose one target is the person the prompt brings in."""
    from lm_eval_mdlm.metrics.lists import parse_list

    rows = data.Sampler(person_tokenizer)("newarrivals", random.Random(3), 32)
    answers = batch_tensors(person_tokenizer, rows, 32)[2]
    drilled, only = drill_targets(person_tokenizer, rows, answers)
    assert drilled.all() and only.sum(1).eq(1).all()
    for example, answer, target in zip(rows, answers, only):
        (new,) = set(parse_list(example.answer)) - set(query_people(example))
        assert example.targets == {new} and person_tokenizer.decode(answer[target]) == new
        assert 'inserted into the line at a random' in example.prompt or "replace one random" in example.prompt


def test_one_person_drill_targets_a_drawn_person_so_the_newcomer_is_a_set_difference(person_tokenizer) -> None:
    """``onearrivals`` rows: one person of the answer is the target, drawn per document; the newcomer is it only
    in about 1 of n rows, so "the masked slot is the new person" is no shortcut (what ``newarrivals`` taught)."""
    from lm_eval_mdlm.metrics.lists import parse_list

    rows = data.Sampler(person_tokenizer)("onearrivals", random.Random(5), 200)
    answers = batch_tensors(person_tokenizer, rows, 32)[2]
    drilled, only = drill_targets(person_tokenizer, rows, answers)
    assert drilled.all()
    chosen = [person_tokenizer.decode(answer[target]) for answer, target in zip(answers, only)]
    people = [parse_list(example.answer) for example in rows]
    assert all(len(example.targets) == 1 and name in answer for example, name, answer in zip(rows, chosen, people))
    slots = [answer.index(name) for name, answer in zip(chosen, people)]
    newcomer = [name not in query_people(example) for example, name in zip(rows, chosen)]
    expected = sum(1 / len(answer) for answer in people)  # one draw among the answer's people
    assert abs(sum(newcomer) - expected) < 3 * expected ** 0.5 and len(set(slots)) >= 4
    again = data.Sampler(person_tokenizer)("onearrivals", random.Random(5), 200)
    assert [e.targets for e in again] == [e.targets for e in rows]


def test_drill_targets_must_be_one_token_and_train_with_token_weighting(name_tokenizer, tmp_path) -> None:
    from research.default_model.recipe import RECIPE
    from research.default_model.train import Example, train

    tokenizer = name_tokenizer
    split = Example("<|user|>\nx\n", "Zyxwvut", frozenset({" Zyxwvutsr"}))
    answers = batch_tensors(tokenizer, [split], 8)[2]
    with pytest.raises(ValueError, match="drill target ' Zyxwvutsr' is [0-9]+ tokens of this tokenizer"):
        drill_targets(tokenizer, [split], answers)
    recipe = dataclasses.replace(RECIPE, weighting="elbo", hidden=32, layers=1, heads=2, intermediate=64, steps=2,
                                 stop_after=None, curriculum=[(1.0, "bind2")])
    with pytest.raises(ValueError, match="stage 'bind2': drill rows .*weighting='token'"):
        train(recipe, tokenizer, data.Sampler(tokenizer), str(tmp_path))


def test_drill_rows_mask_exactly_their_targets_and_other_rows_follow_t(name_tokenizer) -> None:
    from research.default_model.recipe import RECIPE
    from research.default_model.train import training_mask

    tokenizer = name_tokenizer
    examples = data.Sampler(tokenizer)("bind6+echo6", random.Random(2), 400)
    ids, attention, answers = batch_tensors(tokenizer, examples, 32)
    tokens, width = torch.cat([ids, answers], 1), ids.shape[1]
    recipe = dataclasses.replace(RECIPE, full_mask_rate=0.5)  # half the rows may mask their prompt too
    noisy, masked, rate, _ = training_mask(tokenizer, examples, tokens, attention, width, recipe,
                                        torch.Generator().manual_seed(0))
    rows, only = drill_targets(tokenizer, examples, answers)
    assert 100 < rows.sum() < 300 and ((noisy == tokenizer.mask_token_id) == masked).all()
    assert masked[rows, width:].equal(only[rows]) and not masked[rows, :width].any()
    echo = masked[~rows, width:].float().mean(1)  # corruption at rate t: the share masked tracks t
    assert echo.sub(rate[~rows]).abs().mean() < 0.1 and masked[~rows, :width].any()


def test_training_never_sees_evaluation_documents() -> None:
    rng = random.Random(1)
    stream = data.documents(("waiting_line/copy",), (3, 3), rng)
    held = data.held_out("waiting_line/copy")
    assert not any(next(stream)["prompt"] in held for _ in range(300))


def test_rendering_equals_what_lm_eval_sends(tmp_path) -> None:
    """Our training prompts are byte-identical to lm-eval's --apply_chat_template contexts."""
    import lm_eval

    from tests.fixtures.tiny import build_tiny_model

    tokenizer = build_tokenizer(data.corpus(random.Random(0), documents_per_task=20), 600)
    folder = build_tiny_model(str(tmp_path / "m"), tokenizer=tokenizer)  # the default model's tokenizer
    out = lm_eval.simple_evaluate(model="mdlm", model_args=f"pretrained={folder}", limit=3, log_samples=True,
                                  tasks=["parallelbench_waiting_line_insert_index_gen"], device="cpu",
                                  apply_chat_template=True, fewshot_as_multiturn=True)
    for sample in out["samples"]["parallelbench_waiting_line_insert_index_gen"]:
        ours = tokenizer.apply_chat_template(data.messages(sample["doc"]), tokenize=False, add_generation_prompt=True)
        assert sample["arguments"][0][0] == ours


def test_train_tiny_smoke(tmp_path) -> None:
    """A few real steps of the recipe end to end: loss falls, checkpoint loads and decodes."""
    from lm_eval_mdlm.model import MDLM

    settings = dict(hidden=32, layers=1, heads=2, intermediate=64, batch_size=8, steps=30, stop_after=None, warmup=5,
                    lr=3e-3, vocab_size=600, threads=1, full_mask_rate=0.5,
                    phases=[{"steps": 10, "warmup": 2, "lr": 5e-4},
                            {"steps": 6, "full_mask_rate": 0.0, "curriculum": [(1.0, "hard+waiting_line")]}])
    summary = run(str(tmp_path / "ckpt"), **settings)
    first, second = summary["phases"]
    assert first["steps_run"] == 30 and first["final_loss"] < first["first_loss"]
    assert second["steps_run"] == 10 and second["recipe"]["init_from"] == str(tmp_path / "ckpt" / "phase1")
    assert summary["steps_run"] == 6 and summary["recipe"]["init_from"] == str(tmp_path / "ckpt" / "phase2")
    recorded = json.loads((tmp_path / "ckpt" / "recipe.json").read_text())
    # each phase changes only what it names, on top of the previous phase
    assert recorded["recipe"]["hidden"] == 32 and recorded["recipe"]["lr"] == 5e-4 and recorded["recipe"]["warmup"] == 2
    # resuming at phase 3 trains only phase 3, from phase 2's weights, and keeps the earlier records
    resumed = run(str(tmp_path / "ckpt"), first_phase=3, **settings)
    assert [p["steps_run"] for p in resumed["phases"]] == [10] and resumed["steps_run"] == 6
    assert resumed["recipe"] == summary["recipe"]
    with pytest.raises(ValueError, match="first_phase=4 is not a phase of this run; valid: 1..3"):
        run(str(tmp_path / "ckpt"), first_phase=4, **settings)
    lm = MDLM(pretrained=str(tmp_path / "ckpt"))
    assert lm.denoiser.mask_id == lm.tokenizer.mask_token_id and lm.denoiser.eos_ids == (lm.tokenizer.eos_token_id,)
    assert len(lm.generate_until([_request(lm.tokenizer)])) == 1


def _request(tokenizer):
    """One greedy generation request of four answer tokens."""
    from lm_eval.api.instance import Instance

    return Instance(request_type="generate_until", doc={}, idx=0,
                    arguments=("Copy: [\"Mary Smith\"] ->", {"until": ["\n"], "max_gen_toks": 4}))


def _shipped_record() -> tuple[dict, list[str]]:
    """The shipped checkpoint's recipe.json and its phase keys in phase order (phase10 sorts before phase2 as text)."""
    from pathlib import Path

    from lm_eval_mdlm.default_model import default_checkpoint

    record = json.loads((Path(default_checkpoint()) / "recipe.json").read_text())
    return record, sorted((k for k in record if k.startswith("phase")), key=lambda k: int(k[len("phase"):]))


def test_shipped_checkpoint_is_the_recipe_and_fits_the_package() -> None:
    """The shipped folder stays within the 25 MB the package allows, writes each person as one token, and its record of
    every phase is what RECIPE and LATER_PHASES say (so `python -m research.default_model` retrains this checkpoint)."""
    from pathlib import Path

    from transformers import AutoConfig, AutoTokenizer

    from lm_eval_mdlm.default_model import default_checkpoint
    from research.default_model.recipe import LATER_PHASES, RECIPE

    folder = Path(default_checkpoint())
    assert sum(f.stat().st_size for f in folder.iterdir()) <= 25 * 2 ** 20
    tokenizer, config = AutoTokenizer.from_pretrained(folder), AutoConfig.from_pretrained(folder)
    assert config.vocab_size == len(tokenizer)
    assert tokenizer.tokenize('["Mary Smith", "John Lee"]') == ['["', "Mary Smith", '",', 'Ġ"', "John Lee", '"]']
    record, recorded_phases = _shipped_record()
    phases = [dataclasses.asdict(RECIPE)]
    for changes in LATER_PHASES:
        phases.append({**phases[-1], **changes})
    assert recorded_phases == [f"phase{i}" for i in range(1, len(phases) + 1)]
    for number, expected in enumerate(phases, start=1):
        recorded = record[f"phase{number}"]
        for key in ("lr", "steps", "warmup", "seed", "person_tokens", "hidden", "layers"):  # the cut: steps_run
            assert recorded["recipe"].get(key, False) == expected[key], (number, key)
        assert [tuple(stage) for stage in recorded["recipe"]["curriculum"]] == \
            [tuple(stage) for stage in expected["curriculum"]], number
        assert recorded["steps_run"] == min(expected["steps"], expected["stop_after"] or expected["steps"])


def test_documented_recipe_totals_are_the_record() -> None:
    """docs/default_model.md and the train-speed benchmark quote the shipped run's steps and time: they must be
    what its recipe.json records (the sum over phases), so a retrained checkpoint cannot leave them stale."""
    from pathlib import Path

    record, phase_keys = _shipped_record()
    phases = [record[key] for key in phase_keys]
    steps, seconds = sum(p["steps_run"] for p in phases), sum(p["seconds"] for p in phases)
    assert record["total_seconds"] == seconds
    root = Path(__file__).resolve().parent.parent
    quoted = {"docs": (root / "docs" / "default_model.md").read_text(),
              "benchmark": (root / "benchmarks" / "default_model_train_speed.py").read_text()}
    for where, text in quoted.items():
        assert f"{steps:,} steps" in text and f"{seconds:,} s" in text, where
    assert f"{seconds / 3600:.1f} hours" in " ".join(quoted["docs"].split())
