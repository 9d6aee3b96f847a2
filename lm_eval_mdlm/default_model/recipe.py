"""The default model's recipe: tokenizer, curriculum and hyper-parameters, in one place.

``run(out_dir)`` trains it (seeded; settings and timings land in ``recipe.json``); ``lm-eval-mdlm
train-tiny`` is the command. What we learnt on 2 CPU cores (probes of a few hundred to 3,000 steps):

- ModernBERT (rotary, pre-LN) with LLaDA's 1/t-weighted loss on the one-shot prompts: 0 % exact
  copies after 270 / 1,100 / 2,200 steps; it learnt the list format and length but wrote one constant
  name in every slot (the plateau before copying emerges).
- The 1/t weight: at batch 32 a row with t near 0 has zero or one masked token weighted up to 1/t,
  so a few rows dominate each gradient; ``weighting="token"`` removes that noise.
- Repeating a list of one person (``echo1``) was learnt by BERT in ~75 steps, by ModernBERT in ~350
  and by RoFormer in 500+; BERT then copies lists of up to 6 people exactly (100 % at step 2,000) by
  position, since the list ends right before the answer.
- That skill does not transfer by itself: with random template words around the list (filler) the
  loss stayed on the plateau; the task prompts need the list found by content. Mixing echo rows into
  the one-shot stage keeps the skill while the model learns the task format: by step 2,500 it copies
  names from the prompt, still mixing first and last names of different people at step 3,000.
- Without native bf16 (avx512_bf16/amx) bf16 autocast is ~3x slower than float32, so the recipe trains
  in float32 (also reproducible across CPUs).
- One token per *person* (3,600 added tokens "First Last", so no first/last-name binding to learn):
  not even the echo stages were learnt in 200 steps (content cross-entropy ~9-10 nats, above the
  uniform log 4519, at lr 1e-3 and 5e-4), and 0 % on the task prompts after 1,200 steps; name parts stay.
- The index and random operations are a matter of steps, not capacity: continuing the 4-layer model
  (phase 3, greedy k = 1 on 12 held-out documents per operation) gave replace/insert/remove_index
  17/25/33 % after 850 steps, 67/67/92 % after 1,700 and 92/100/100 % after 2,550; insert_random
  25 -> 83 %, shuffle 0 -> 42 %. Shuffle and replace_random were last (first and last names of
  different people mixed in one slot), hence phase 4; after it (30 documents) the five exact
  operations are at 100 % and shuffle/random still fail on that binding (7-47 %): a 2,300-step phase on
  them did not move it (progress evaluations fluctuated, e.g. shuffle 33 -> 8 -> 7 %).
- Drilling that binding (stages ``bind<n>``: a list of 2..n people, then the same people reordered;
  ``bindhard``: the shuffle/index/random prompts; in both every first name is given and only the last
  names are targets, so only finding the person by first name lowers the loss). Lists of 2..6 at once
  stay at a guess: from the shipped model at lr 5e-4, 2,400 steps, 16 -> 27 % of last names; from a random
  initialisation at lr 1e-3, 3,000 steps, ~30 %; ModernBERT (rotary) did not even copy in 1,200 steps.
  Growing the list works: from the shipped model, ``run(dir, phases=LATER_PHASES + DRILL, first_phase=5)``
  with DRILL = [1,200 steps ``bind2`` lr 5e-4; 3,000 ``bind3`` lr 1e-3; 1,500 ``bind4`` then ``bind6``
  lr 1e-3] took last names given first names (bare lists of 2..6) from 16 to 92 % in 5,700 fast steps
  (~0.27 s each). It did not carry over to the task prompts (shuffle 28 -> 7 %), and those phases erased
  the task skills: a 900-step phase on ``bindhard+hard+waiting_line+bind6`` (lr 5e-4) brought copy back
  to 83 % and insert_random to 50 % by step 600 but replace_index only to 8 % (greedy k = 1, 12 documents;
  at its end copy 83, reverse 50, replace_index 33, shuffle 25 %, and with all else given 27 % of
  shuffle's last names: no transfer), so none of it is shipped.
- Why it did not carry over: positions are learned absolute embeddings, and the lookup exists only at the
  positions it was drilled at. On the drilled model, moving every position id of the same rows by 20
  took bind6's last names from 85 to 31 % and bind3's from 99 to 54 % (``benchmarks/default_model_binding.py
  --pretrained DIR --shift 20``; shifts of 40-160 gave 26-30 % on bind6, a guess), while the task prompts'
  lists sit 80-230 positions in. Teaching it everywhere did not work in the steps we could afford: drill
  rows with their positions moved by a random 0..200 (600 steps of ``bind4+bind6`` lr 5e-4, or 2,000 of
  ``bind2+bind3`` lr 1e-3, from the drilled model) stayed at a guess at +60 and +150 and lost part of the
  +0 skill (90 -> 57-75 %); drilling the task prompts themselves at 2-3 people
  (``bindrandom23+bindrandom23+waiting_line`` from the shipped model, lr 5e-4) left shuffle's last names
  at a guess (29 -> 30 % after 750 steps of 0.9 s).
- Rotary positions (RoFormer, same size, from scratch, lr 5e-4; ``echo1`` 100 steps, ``echo3`` 200,
  ``bind2+echo3`` 1,000, ``bind3+echo3`` 2,700) make the lookup position-free but not faster to learn:
  echo3 copied 100 % by step 1,500, while bind3's last names went 42 -> 54 % (a guess is ~42 %) and
  bind6's 18 -> 24 % over 3,000 drill steps.
- One token per person again, warm-started: the shipped model with 3,600 added tokens "First Last"
  (embedding = the sum of the two name parts', output bias their mean), 1,500 steps of
  ``waiting_line+hard`` at lr 5e-4: the exact operations back at 100 % and sort 27 -> 67 % (greedy k = 1,
  30 documents), but shuffle 13, insert_random 40, remove_random 50, replace_random 23 %: it now writes
  single tokens that join one person's first name to another's last name ("Ryan Walker" from "Ryan
  Nguyen" and "Susan Walker"), the summed embeddings keeping the halves apart: the binding moved into
  the embeddings rather than away.
- Relative positions from scratch (``echo1`` 100 steps, ``echo3`` 300, ``bind2+echo3`` 900, then
  ``bind3+echo3``; lr 1e-3): MPNet (T5-style relative position buckets) and ConvBERT (span convolutions,
  which hand each token its neighbours without attention) never left the copying plateau: echo3 stuck at
  89 % of answer tokens from step 250 on (what EOS and punctuation alone give; BERT's goes on to 100 %),
  MPNet's bind3 last names at 1-9 % up to step 1,500 (stopped at 1,600; ConvBERT at 500).
- End-aligned positions (position ids counted back from the prompt's last token, fixed at 511, answers
  after it; ``max_positions`` 1,024), so that every prompt's query list and answer, and the drill rows',
  sit at the same positions whatever the one-shot example's length. From scratch in under an hour
  (4,000 steps, 2,499 s: echo stages 680, ``bind2+echo6`` 600, ``bind3+echo6`` 880, then 1,840 of
  ``all+bindrandom23+echo6``; lr 1e-3): greedy k = 1, 30 documents: copy 97, reverse 93, the index
  operations 0-7, sort, shuffle and insert_random 0, replace_random 3, remove_random 43 %; bind3's last
  names at a guess (33-43 %) from step 1,250, when copying was learnt, to the end.
  Drilling that model (``bind2`` 1,260 steps then ``bind3``, lr 1e-3, 4,200 steps) left bind3 at 39 %
  and erased copying (echo3 100 -> 3 %). Aligning the positions does not shorten the thousands of
  steps before the lookup appears.
- The §4 list operations (single-letter items, 4 of the 14 operations in ``all``) are not learnt: the
  shipped model writes two or three tokens (", D") and then EOS, 0 % on all four (greedy k = 1, 30
  documents; ``lm_eval --model mdlm --model_args k=1 --tasks parallelbench_list_ops_shuffle_gen`` agrees:
  score 0, 2.4 answer tokens). Continuing it reached the format but not the copy: after 600 steps of ``all``
  (lr 3e-4) it writes one constant list ("[F, P, L]") whatever the prompt (the constant-output
  plateau, on letters), and after 1,200 steps with the list operations as half the rows (lr 5e-4; a
  ``list_ops`` stage added for the probe, not kept) another one ("[W, U, U]"): still 0 %.
- Speed: a ``torch.compile``-d training step takes 1.04-1.09x the eager one's time (no gain; medians
  of 10 interleaved batch pairs, two runs) and left padding is 24 % of prompt positions
  (``benchmarks/default_model_train_speed.py``): the step is compute-bound (~150 GFLOP at batch 32), so
  neither comes near the 2.6x the one-hour target needs; fewer or shorter steps would. A smaller model would:
  ``--sizes`` times random-weight BERTs of the same vocabulary against the shipped one, hidden 256 with 2 layers
  at 0.50 of its step time, hidden 128 with 4 layers at 0.35, with 2 layers at 0.19 (medians of 10 interleaved
  batches); the bullet "The smallest of those" below tries the smallest on this recipe.
- A previous-token channel (:attr:`~lm_eval_mdlm.default_model.train.Recipe.previous_token_types`:
  ``token_type_ids`` = each position's previous input id, BERT's token-type embedding sized to the
  vocabulary; the engine passes them for a checkpoint saved with it) hands every token the first half of
  the induction head the lookup needs, and the lookup then forms in hundreds of steps and works at any
  position. From scratch, same BERT, ``RECIPE`` with ``previous_token_types=True``, ``steps=4800``,
  ``stop_after=1500`` and curriculum [(0.025, ``echo1``), (0.0375, ``echo3``), (0.125, ``bind2+echo3``),
  (0.125, ``bind3+echo6``), (0.6875, ``all+waiting_line+bind6``)], then ``phases=[{"steps": 2600,
  "stop_after": None, "lr": 8e-4, "warmup": 50, "curriculum": [(1.0, "all+waiting_line+bind6")]}]``:
  4,100 steps, 3,005 s. bind3's last names 2, 32, 88, 94 % at steps 600, 900, 1,200, 1,500 (a pilot with
  the same first 1,500 steps, losses equal step for step). At the end, with every other answer token
  given (``benchmarks/default_model_binding.py --pretrained DIR``): shuffle 98, insert_random 98,
  remove_random 95, replace_random 99 % of last names (the shipped model: 28/58/66/58), bind3 99 % and
  92 % with positions moved by 60 (the drilled model of the bullet above: 54 % at +20). But it never
  learnt to copy *first names*: greedy k = 1 writes a few slots of one constant first name with looked-up
  last names (copy: ``["Melissa Morris", "Barbara Morris", "Linda Morris"]`` for ``["Sarah Morris", ...]``),
  0 % on all ten operations at every setting of ``benchmarks/default_model_table.py --limit 30``. A first
  name follows the same ``"`` in every slot, so the channel does not find it; that needs the positional
  copying the echo stages teach over thousands of steps (the shipped recipe's ``all+echo6``), and this run
  had echo rows only for its first 1,500 steps. Whether the lookup forms equally fast is schedule-dependent:
  with the same stages at 4,000 and 4,200 steps in all (``bind2`` 800 and 525 steps) it had not formed by
  step 1,050 (``bind2+echo3`` loss still 0.80; the pilot's fell to 0.54 by 850) / 2,000 (loss 1.82 against
  the pilot's 1.05); at 3,000 and 4,800 it formed within 600 ``bind2`` steps. Not shipped.
  Warm-starting the shipped model with the channel instead (every row of the new token-type embedding =
  its single old row, so it starts as the same function; 686 steps of ``waiting_line+bind2+bind3``, lr
  5e-4, 14 minutes): last names with all else given shuffle 60, random operations 63-76 %, but bind3 82 %
  at +0 and 1 % at +60, so the old position-bound route, not the channel; greedy k = 1 at 20 documents
  (``lm_eval ... k=1 --limit 20``) copy 100, insert_index 100, insert_random 45, remove_index 95,
  remove_random 75, replace_index 95, replace_random 40, reverse 95, shuffle 25, sort 30 %: not shipped
  either.
- Previous-*word* types, to make copying first names in order the same lookup
  (:attr:`~lm_eval_mdlm.default_model.train.Recipe.types_skip_punctuation`: a word's type is the last word
  before it and punctuation gets none, so the first name after ``Morris", "`` is typed `` Morris``; stage
  ``firstordered`` drills first names with all else given on the operations that keep the list's order).
  Second phases from the channel run's phase 1 above (1,500 steps, plain types, last-name lookup formed),
  the word types switched on, lr 8e-4, warmup 50, echo rows kept; progress checks every 400 steps (first
  names of 20 copy prompts with every other token given; greedy k = 1 on 12 documents of copy, reverse,
  shuffle and insert_random): (a) ``all+waiting_line+bind6+echo6``, punctuation still typed by the word
  before it, stopped after 900 steps: first names 0, 3 % at steps 400, 800; (b) the same plus ``firstordered``
  rows, stopped after 950: 2, 2 %, greedy k = 1 still writing empty names at step 800 (``["Anthony", "",
  "", ""]``; phase 1's weights with these types put ``"]`` or ``",`` into 60 of 72 first-name slots: two of
  the three list tokens typed by the previous person were punctuation, hence (c)); (c) punctuation untyped, plus
  ``firstordered``, stopped after 1,300 of 2,200: 0, 2, 3 % at 400, 800, 1,200, and greedy k = 1 wrote one
  person's first name twice (``["Thomas Lopez", "Thomas Rivera", ...``), 0 % on all four operations. All
  three kept the last-name lookup (bind3 93-98 %, shuffle's last names 92-98 % with all else given). From
  scratch with the word types (punctuation typed) on the channel run's schedule, the last-name lookup did
  not form either: bind3 30, 33, 39, 41 % at steps 400, 800, 1,200, 1,900 (stopped at 1,950), where plain types
  reached 94 % by 1,500. Drilling only ``firstordered`` (lr 1e-3, 700 steps from the same phase 1, untyped
  punctuation): the loss sat at 4.10 from step 100 to 700, i.e. log 60, a uniform guess over all 60 first
  names (not even over the prompt's 3-6), while the last-name lookup was lost (bind3 0 % at steps 200-600).
  So the first-name chain did not form in 1,300 steps where the last-name lookup had formed in ~600: this
  model finds no first name in the prompt, by position or by type, in the steps tried; no model of these
  runs is shipped.
- One token per person with an identity of its own (:attr:`~lm_eval_mdlm.default_model.train.Recipe.person_tokens`,
  phases 5-7 of the shipped checkpoint): the 3,600 person tokens added to the phase-4 model, each row 0.3 x
  (its name parts' rows) + a random direction of a name part's norm (``extend_embeddings``), so a mix of
  two people no longer scores their cross combinations as high (the sum-only warm start above). Phase 5,
  1,500 steps of ``waiting_line+hard`` at lr 5e-4 (1,718 s), greedy k = 1 on 12 documents per operation at
  steps 500 / 1,000 / 1,500: shuffle 100/100/100, insert_random 92/83/100, remove_random 92/100/100,
  replace_index 75/100/100, copy 83/100/100, reverse 17/100/100, replace_random 25/42/33 % (a pilot with
  seed 3 for the data and seed 0 for the new rows: replace_random 25, 33, 42, 75, 67 % every 300 steps, the
  rest as here). Shuffle and the *_random operations need only the people of the prompt as a set, and
  each slot's token is a whole person: the binding the runs above could not teach is gone.
- replace_random was last: with every other answer token given, phase 5 put 0.21 of probability on the
  newcomer in the replaced slot (argmax right in 9 of 30 documents; an original person's slot: 28 of 30),
  so greedy decoding, which commits the originals first, kept the old list. Drilling exactly that
  conditional (stage ``newarrivals``: insert/replace_random prompts with only the newcomer masked, a third
  of the rows, lr 3e-4) made it worse: insert_random 25 and 50 %, replace_random 17 and 25 % at steps 200, 400
  (stopped). Phase 6 weights the operation instead (``waiting_line+replace_random``, 600 steps, lr 3e-4):
  replace_random 58, 75, 58 % at steps 200, 400, 600 (12 documents), the others at 92-100 %; phase 7, 800
  steps of ``waiting_line+random`` (lr 3e-4). Greedy k = 1 on 30 documents after phases 5 / 6 / 7:
  insert_random 87 / 83 / 90, replace_random 63 / 70 / 70, shuffle 87 / 97 / 90, remove_random - / 100 / 100 %.
- Why ``newarrivals`` hurt: every drill row's one masked slot was the newcomer, so it taught "a masked slot is
  the new person", a shortcut greedy decoding then applied to several slots. Stage ``one<stage>`` draws the
  target among the answer's people (the newcomer about 1 in n rows), so the answer is the person missing from
  the rest of the list, a set difference. Phases 8-10 (a third of the rows each: ``onearrivals`` 600 steps at
  lr 3e-4, ``onereplace_random`` 900 at 3e-4, 900 at 2e-4; 810, 1,257 and 1,318 s with progress checks):
  greedy k = 1 on all 100 evaluation documents after phases 7 / 8 / 9 / 10: replace_random 69 / 71 / 76 / 86,
  insert_random 81 / 91 / 87 / 80 %; with every other answer token given, the probability of the newcomer in
  its slot 0.36 / - / 0.55 / 0.60 (argmax right in 17 / - / 21 / 23 of 30 documents). After phase 9, 6 of
  the 7 failures among the first 30 documents (n = 3-4) were the list copied unchanged. The 20-document
  checks every 300 steps swung (replace_random 65 -> 90 -> 70 in phase 9), so the numbers here are the
  100-document ones.
- After phase 10 the failures (greedy k = 1, 100 documents) gathered at the longest lists (shuffle 17 of 25 at
  6 people, insert_random 17 of 25 at 6 and at 7) and were a person written twice, the list returned unchanged
  or (insert_random) reordered. Stage ``hard56`` (:data:`~lm_eval_mdlm.default_model.data.HARD_OPS` at 5-6
  people) and its drill ``onehard56``, in equal shares with the ten operations, 900 steps at lr 2e-4
  per phase (1,211, 1,282 and 1,261 s, no progress checks): phase 11 ``waiting_line+hard56+onehard56``, phase 12
  the same plus ``onereplace_random``, phase 13 plus ``onearrivals`` instead. Greedy k = 1 on all 100
  documents after phases 10 / 11 / 12 / 13: copy 100 / 100 / 100 / 100, reverse 97 / 99 / 99 / 97, replace_index
  94 / 100 / 99 / 99, insert_index 92 / 98 / 98 / 100, remove_index 95 / 99 / 98 / 100, shuffle 88 / 90 / 95 / 90,
  insert_random 80 / 90 / 83 / 98, remove_random 97 / 98 / 99 / 99, replace_random 86 / 85 / 95 / 97, sort
  17 / 21 / 28 / 22 %. Weighting replace_random alone again cost insert_random (phase 12, as in phases 9-10);
  weighting both operations that bring a newcomer in (``arrivals``) lifted both.
- One token per person from scratch (``RECIPE`` with ``person_tokens=True``): the echo stages were not
  learnt; the loss stayed at what uncopied people cost (echo2 0.38, echo6 1.42 at step 600, i.e. ~8 nats,
  about log 3,600, per person token), stopped there. Not the rows' rarity alone: with the word embeddings
  initialised 5x larger (std 0.1), trained or frozen at their random values (so only a generic copy map is to be
  learnt), ``echo1`` alone (one person at a fixed position) sat at loss 0.29 from step 100 to 250, i.e. ~9 nats
  per person, 0 % of 64 people copied (probes of 250 and 200 steps, 0.37 s each): a copy over 3,600 classes
  from a random start is a plateau longer than a CPU hour's share allows; the name-part phases give them their
  start. Copying is not the limiting step of an hour anyway (next bullet).
- The one-hour route, name parts only for copying, then person tokens: ``RECIPE`` with ``steps=1500``,
  ``stop_after=None`` and the echo stages only ([(0.1, ``echo1``), (0.15, ``echo2``), (0.25, ``echo3``),
  (0.5, ``echo6``)]; 602 s, echo6 loss 2e-4), then ``{"steps": 2000, "lr": 8e-4, "warmup": 50,
  "person_tokens": True}`` on [(0.1, ``echo6``), (0.9, ``all+waiting_line+echo6``)] (2,310 s with ~190 s of
  progress checks). The person tokens copied at once (echo6 loss 3.2 -> 0.16 in 150 steps), the operations
  did not follow: greedy k = 1, 12 documents, at person steps 1,000 / 1,500 / 2,000: copy 8/0/25, reverse
  17/42/58, replace_index 0/8/17, shuffle 0/0/0, insert_random 0/0/8, remove_random 0/58/67, replace_random
  0/17/33 %, 48 minutes into the hour (stopped before a planned 600-step ``waiting_line+random`` phase). The
  person tokens remove the binding, not the thousands of task steps phases 1-4 give the operations.
- The smallest of those, hidden 128 with 2 layers (4 heads, intermediate 512), on this recipe's first phases
  (``run(dir, hidden=128, layers=2, heads=4, intermediate=512)``): phases 1-3 took 705, 445 and 895 s
  (0.22-0.34 s a step; the shipped model's phase 3 took 2,701 s for the same 2,619 steps) to final losses 0.32,
  0.21, 0.32 (shipped: 0.21, 0.15, 0.14). Greedy k = 1 on 12 documents per operation: after phase 2 copy 75,
  replace_index 8, shuffle 0 %; after phase 3 copy and reverse 100, remove_index 75, insert_index 33,
  replace_index 17, remove_random 67, shuffle, sort, insert_random and replace_random 0 % (the shipped model
  after phase 3: the index operations at 92-100 %). To stay within the hour the name-part ``hard`` phase was
  skipped and person tokens switched on from phase 3 (2,100 steps of ``waiting_line+hard`` at lr 5e-4, 716 s,
  then 1,200 of ``waiting_line+hard56+onehard56+onearrivals`` at lr 3e-4, 464 s; 3,225 s in all): the new rows
  cost the small model its copying (final losses 0.56 and 0.67 where the shipped model's phase 5 reached
  0.17): copy 58 then 83, reverse 92, remove_index 17 then 42, the other index operations 0-17, shuffle and the
  random operations 0-8 % except remove_random 58-67 %. Phase 4 as shipped instead (2,300 steps of name-part
  ``hard+waiting_line``, 711 s; 2,756 s for phases 1-4, where the shipped model's phases 1-4 were at 100 % on the
  exact operations), 30 documents: copy 93, reverse 100, replace_index 73, insert_index 37, remove_index 83,
  remove_random 63, shuffle and sort 0, insert_random 3, replace_random 7 %. A fifth of the step time buys the
  steps but not the progress per step the index operations and the person rows need; not shipped.
  Hidden 256 with 2 layers (8 heads, intermediate 1,024) tracks the shipped model's losses more closely (phases
  1-2: 1,678 + 1,115 s, final losses 0.23 / 0.17, shipped 0.21 / 0.15) but is 47 minutes in after phase 2,
  with copy and reverse 100, remove_index 67, insert_index and replace_index 0 % (12 documents): the hour
  would need the later phases cut to a few hundred steps; untried.

The shipped checkpoint is the thirteen phases below: phase 1 (stopped by its 45-minute budget at step
3,271 of 5,000), phases 2-13 (``LATER_PHASES``): 17,690 steps, 19,946 s (5.5 hours) on 2 CPU cores, phases 1-2
sharing them with other jobs, so well over the one hour issue 4 asks for (README table for its accuracy).
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
from collections.abc import Callable
from typing import Any

from lm_eval_mdlm.default_model.data import Sampler, corpus
from lm_eval_mdlm.default_model.train import Recipe, train
from lm_eval_mdlm.tasks import vocab

SPECIAL_TOKENS = {"pad_token": "<pad>", "mask_token": "<mask>", "eos_token": "<eos>", "bos_token": "<bos>",
                  "unk_token": "<unk>"}
ROLE_TOKENS = ["<|user|>", "<|assistant|>", "<|system|>"]
# Each message is "<|role|>\n{content}\n"; the generation prompt opens the assistant turn.
CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>\n{% endif %}")

RECIPE = Recipe(seed=0, hidden=256, layers=4, heads=8, intermediate=1024, vocab_size=1024, answer_length=32,
                batch_size=32, lr=1e-3, warmup=100, steps=5000, stop_after=3271, threads=2, bf16=False,
                weighting="token", full_mask_rate=0.0,
                curriculum=[(0.03, "echo1"), (0.05, "echo2"), (0.06, "echo3"), (0.1, "echo6"), (0.76, "all+echo6")])
"""Phase 1. The shipped run had a 45-minute budget and stopped after 3,271 of the schedule's 5,000
steps (``stop_after`` reproduces exactly that cut)."""


def _phase(steps: int, lr: float, stage: str, warmup: int = 30, stop_after: int | None = None,
           **changes: Any) -> dict[str, Any]:
    """One later phase: ``steps`` on one curriculum stage. ``stop_after`` is always set (None: the whole schedule)
    so a cut of an earlier phase is never inherited."""
    return {"steps": steps, "stop_after": stop_after, "lr": lr, "warmup": warmup, "curriculum": [(1.0, stage)],
            **changes}


LATER_PHASES: list[dict[str, Any]] = [
    _phase(1500, 5e-4, "all+echo6", warmup=50),
    _phase(3400, 5e-4, "all+waiting_line", warmup=50, stop_after=2619),
    _phase(2300, 5e-4, "hard+waiting_line", warmup=50),
    _phase(1500, 5e-4, "waiting_line+hard", warmup=50, person_tokens=True),
    _phase(600, 3e-4, "waiting_line+replace_random"),
    _phase(800, 3e-4, "waiting_line+random"),
    _phase(600, 3e-4, "waiting_line+replace_random+onearrivals"),
    _phase(900, 3e-4, "waiting_line+replace_random+onereplace_random"),
    _phase(900, 2e-4, "waiting_line+replace_random+onereplace_random"),
    _phase(900, 2e-4, "waiting_line+hard56+onehard56"),
    _phase(900, 2e-4, "waiting_line+hard56+onehard56+onereplace_random"),
    _phase(900, 2e-4, "waiting_line+hard56+onehard56+onearrivals"),
]
"""Phases 2-13, each from the previous phase's weights with a fresh optimiser and cosine schedule.
Phase 2 anneals the learning rate phase 1 never got to lower. Phase 3 drops the echo rows (copying
is learnt by then) and doubles the weight of the Waiting Line operations (``all+waiting_line``); it
had a 45-minute budget and stopped after 2,619 of 3,400 steps (``stop_after``). Phase 4 weights the
operations still being learnt (``hard``: index, shuffle and random operations). Phase 5 switches to one
token per person (:attr:`~lm_eval_mdlm.default_model.train.Recipe.person_tokens`, new embedding rows from
the name parts' plus an identity of their own), which the shuffle and random operations needed; phases 6
and 7 weight replace_random, the operation it learnt last, then the four random operations; phases 8-10 add
rows with one drawn person of the answer as the only target (``one<stage>``), which teach the conditional
greedy decoding ends replace_random on: the slot left is the newcomer's when the newcomer is missing;
phases 11-13 weight the hard operations at the longest lists (``hard56``) with the same drill on them, then
on replace_random, then on both operations that bring a newcomer in (``onearrivals``)."""


def add_person_tokens(tokenizer: Any) -> None:
    """Add one token per Waiting Line person (``vocab.PEOPLE``, ids after the BPE vocabulary, in that order;
    adding them again changes nothing). Lists then tokenize as ``["``, ``Mary Smith``, ``",``, `` "``, ...."""
    tokenizer.add_tokens(list(vocab.PEOPLE))


def build_tokenizer(texts: list[str], vocab_size: int) -> Any:
    """Byte-level BPE trained on the task corpus: every name part ends up as one token.

    Byte-level, so any text still encodes (chat templates, unexpected prompts); the GPT-2 style
    pre-tokenizer keeps words apart from punctuation, so a first name is one token and a last name
    (with its leading space) another, which makes copying a list a token-level operation.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE(unk_token=SPECIAL_TOKENS["unk_token"]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS.values()) + ROLE_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    core.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, **SPECIAL_TOKENS)
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.model_max_length = 1024
    return tokenizer


def run(out_dir: str, on_step: Callable[[int, Any], None] | None = None,
        phases: list[dict[str, Any]] | None = None, first_phase: int = 1, **changes: Any) -> dict:
    """Train the default model into ``out_dir``: phase 1 (:data:`RECIPE` with ``changes``) into
    ``out_dir/phase1``, then each of ``phases`` (default :data:`LATER_PHASES`; each a dict of recipe
    changes on top of the previous phase) from the previous phase's weights; the last one into ``out_dir``.

    ``first_phase`` > 1 resumes: the earlier phases are not trained, phase ``first_phase`` starts from the
    weights in ``out_dir/phase{first_phase - 1}`` (and their summaries are read from its recipe.json).
    ``on_step(step, model)`` is called after every optimiser step of every phase (progress checks).
    Returns the last phase's summary with the earlier ones under ``"phases"`` (in order).
    """
    recipe = dataclasses.replace(RECIPE, **changes)
    later = LATER_PHASES if phases is None else phases
    if not 1 <= first_phase <= len(later) + 1:
        raise ValueError(f"first_phase={first_phase} is not a phase of this run; valid: 1..{len(later) + 1}.")
    tokenizer = build_tokenizer(corpus(random.Random(recipe.seed)), recipe.vocab_size)
    log = lambda line: print(line, flush=True)  # noqa: E731 - progress lines, flushed for long runs
    summaries: list[dict] = []
    if first_phase > 1:
        with open(os.path.join(out_dir, f"phase{first_phase - 1}", "recipe.json")) as f:
            summaries.append(json.load(f))  # the phase resumed from (its own record of earlier phases inside)
    for number in range(1, len(later) + 2):
        if number > 1:
            previous = os.path.join(out_dir, f"phase{number - 1}")
            recipe = dataclasses.replace(recipe, **later[number - 2], init_from=previous)
        folder = out_dir if number == len(later) + 1 else os.path.join(out_dir, f"phase{number}")
        if recipe.person_tokens:
            add_person_tokens(tokenizer)
        if number < first_phase:
            continue
        log(f"phase {number} of {len(later) + 1} -> {folder}")
        summaries.append(train(recipe, tokenizer, Sampler(tokenizer), folder, log=log, on_step=on_step))
    return {**summaries[-1], "phases": summaries[:-1]}
