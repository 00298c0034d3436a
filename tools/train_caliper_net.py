"""Train the learned caliper finder of :mod:`cadbusi_assets.ultrasound.caliper_net` (a heat
map and a refiner) on the CPU (CUDA when present).

Training screens come only from the generator's *tuning* families
(:data:`cadbusi_demo.screens_heldout.TUNING_FAMILIES`) and the demo style
(:data:`cadbusi_demo.screens_heldout.DEMO_FAMILY`), seeds from :data:`FIRST_SCREEN_SEED` on
(the tuning measurements use seeds 100-299, the benchmark and tests small seeds), never from
the held-out families. Each screen is cropped as ``detect_calipers`` crops it (its field of
view's box grown by ``ARM + 3`` px); windows of :data:`WINDOW` px are cut from the crop:
around every caliper point (the point anywhere in the window but its outer :data:`EDGE` px),
on :data:`TEXT_WINDOWS` of its texts (glyphs are no marks) and :data:`RANDOM_WINDOWS`
anywhere (speckle, dotted lines, colour maps, UI).

1. The heat map (``CalNet``): per 4x4 output cell, target 1 for the cell holding a caliper
   point, 0 elsewhere, its 8 neighbours ignored (either may peak); the point's offset from
   the centre of that cell and of its 8 neighbours (L1). Binary cross entropy (positives
   weighted :data:`POS_WEIGHT`) plus the offset loss.
2. Mining: the heat map on :data:`MINE_SCREENS` more screens per family; windows around its
   false points and around the caliper points it misses or misplaces join the first ones,
   and the heat map trains on.
3. The refiner (``RefineNet``, :func:`train_refiner`) on 32 px patches of the first windows:
   around caliper points (shifted: the offset back is the target; arrow tips, a few of the
   points, drawn as :data:`ARROW_SHARE` of them), at the heat map's false points, and
   anywhere else.

Reproducible: fixed seeds, one thread.

    PYTHONPATH=. nice python tools/train_caliper_net.py

(360 screens per family and 160 more for mining, 6 styles; 6000 steps of batch 32 in each
heat-map phase, 3000 refiner steps of batch 64; about 30 minutes on one core of a loaded
2-core machine, rendering included: 24 for the heat map, 2-6 for the refiner). ``--out``
writes elsewhere (to compare weights before replacing the committed ones); ``--cache`` keeps
the first phase's rendered windows in a folder (reused when present); ``--coarse`` takes a
trained heat map's weights and trains the refiner only; ``--refine-from`` fine-tunes the
refiner of a weights file instead of training a new one (at half the learning rate).

How the committed weights were made: the heat map of this command, then ``--coarse`` with its
weights and ``--refine-steps 3000`` (commit 8563b6a's weights, W0, made before
:data:`ARROW_SHARE`: its refiner put arrow tips 3-4 px into the arrow's head); then three
rounds of ``--coarse Wk --refine-from Wk --refine-steps 4000 --cache C --out Wk+1`` from W0
(the heat map unchanged; about 8 minutes a round with the cache on a loaded 2-core machine).
On the tuning frames of seeds 200-299 (``detect_calipers``'s points, the refiner's threshold
then 0.95) recall went 0.922/0.941/0.950/0.954 from W0 to W3 at precision 0.996-0.995; a
fourth round gained 0.002-0.006 recall for 0.001-0.003 precision and was not taken.

``--focus`` (tried on the committed weights W, not taken): ``--coarse W --refine-from W
--refine-steps 0 --focus --steps 8000`` (F1: the heat map fine-tuned, W's refiner; about 22
minutes on a loaded 2-core machine), then ``--coarse F1 --refine-from W --focus --steps 0
--refine-steps 12000`` with the first command's ``--cache`` (F3: F1's heat map, W's refiner
fine-tuned on the first and the focus windows; 8 minutes). Measured with
``python -m benchmarks.caliper_misses`` (W -> F1 -> F3): tuning seeds 100-139 recall
0.929 -> 0.934 -> 0.939 at precision 1.000, seeds 200-239 0.943 -> 0.949 -> 0.956 at
precision 0.995 -> 0.997 -> 0.999; held-out seeds 0-9 recall 0.910 -> 0.910 -> 0.927,
precision 0.997 -> 0.997 -> 1.000, error max 3.16 -> 3.16 -> 4.12 px. With F1 the heat map
nearly always fires on the tuning misses (no heat point: 10 -> 1 of 48) but W's refiner
then says < 0.99 (31 -> 35): the refiner, not the heat map, is what misses. Neither was
taken: F1 adds a false mark on a real ALOKA frame (test_real_files, at (34, 246): W's
refiner is sure of a point F1's heat map now gives); F3 adds the same one (though its
refiner vetoes the known false mark of examples_rgb_color.dcm: that strict xfail passes),
vetoes a true rule mark (philips_epiq 215) and places a JPEG arrow tip (ge_logiq 157)
2.2 px off (test_caliper_net). F4, W's heat map with a refiner fine-tuned as F3's
(``--coarse W --refine-from W --focus --steps 0 --refine-steps 12000``; 5 minutes): tuning
recall 0.934 and 0.948 at precision 1.000 and 0.999, but the same false ALOKA mark (W's heat
map fires there too; W's refiner was below 0.99, F4's is not), the same veto of a true mark
and a large white 'x' of ge_logiq 114 lost. The refiner fine-tuned on the focus windows is
the more lenient on real screens: a next try should keep W's refiner's verdicts on what is no
mark (more random and real-like negatives, or the focus windows a smaller share).

``--distill D`` / ``--anchor A`` / ``--ui-screens N`` (tried on W, not taken): the refiner of
``--refine-from`` fine-tuned as F4 (W's heat map, the first and the focus windows) while a
loss keeps the teacher's (W's) verdicts (negatives: the logit above W's; caliper points: below
W's), an L2-SP penalty keeps the weights near W's and a quarter of the random negatives lie in
the UI graphics of N screens a family (depth scales, focus markers, body marks:
:func:`render_ui`). The real ALOKA frame's focus marker (crop (10, 228)) is the measure of
leniency off the training windows: W's refiner gives it 0.9831, the threshold is 0.99. All
with ``--coarse W --refine-from W --focus --steps 0 --cache C`` (C holding the first and focus
windows; 4-12 minutes a run on a loaded 2-core machine, one thread), measured with
``python -m benchmarks.caliper_misses`` (tuning seeds 100-139 and 200-239, 40 frames a
family; W: recall 0.9286 and 0.9433, precision 1.0000 and 0.9954; held-out seeds 0-9,
measured only: recall 0.9102, precision 0.9973, error max 3.16 px):

* R1 ``--refine-steps 12000 --distill 1 --anchor 0.01`` (the negatives' loss only): no gain
  (recall 0.9286 and 0.9419), and test_caliper_net fails (philips_epiq 190's arrow lost, the
  true arrow of philips_epiq 215 vetoed); ALOKA 0.9835.
* R2 as R1 with ``--ui-screens 400``: test_caliper_net fails (ge_voluson 278 lost, the same
  veto); ALOKA 0.9860.
* R3 ``--refine-steps 6000 --distill 1 --anchor 0.01 --ui-screens 400`` (the caliper points'
  loss added): test_caliper_net passes, recall 0.9359 and 0.9491 (precision 1.0000, 0.9954),
  but ALOKA 0.9965: the false mark (34, 247) on the real frame.
* R4 as R3 with ``--anchor 0.05``: ALOKA 0.9905, the same false mark.
* R5 as R3 with ``--anchor 0.2``: every caliper test and test_real_files pass (ALOKA 0.9856),
  but recall only 0.9300 and 0.9462 (+3 of 1374 tuning marks; precision 1.0000, 0.9954) and
  held-out recall 0.9102 with one more false mark (siemens_juniper; precision 0.9947): no
  gain worth new weights (the equivalence fixture's points were unchanged, three net marks'
  scores moved by <= 0.0015).

What the focus windows teach the refiner and what keeps it strict on the ALOKA marker pull
against each other: the anchor strong enough to keep the marker below 0.99 leaves about a
third of R3's recall gain (+3 tuning marks of +9). An untested guess: the refiner needs inputs it
does not see (a wider patch, or the heat map's features), not only more fine-tuning.

``--refiner-version 2`` (a new refiner, trained from scratch; W's heat map kept; not taken):
version 2 sees the 32-px patch and the 64 px around it at half resolution (6 channels,
50.1 k parameters; :func:`~cadbusi_assets.ultrasound.caliper_net.patches`). Its samples are
cut from the whole crops (:func:`render_samples`: the context as at inference, zeros only
beyond the crop) of ``--sample-screens`` screens per family (seeds from :data:`SAMPLE_SEED`):
every caliper point, the heat map's false points (W's heat map on the whole crop), points in
UI graphics, texts and anywhere; ``--sample-focus`` adds screens of the weak styles (seeds
from :data:`FOCUS_SEED`), ``--sample-ui`` negatives in UI graphics anywhere on the whole frame
(:func:`render_ui_samples`). One thread, a loaded 2-core machine, ``--cache C``; measured with
``python -m benchmarks.caliper_misses`` (tuning seeds 100-139 and 200-239, 40 frames a family,
threshold 0.99; W: recall 0.9286 and 0.9433, precision 1.0000 and 0.9954, error max 3.16 px;
held-out seeds 0-9, measured only: recall 0.9102, precision 0.9973, error max 3.16 px):

* V2a ``--coarse W --refiner-version 2 --sample-screens 600 --refine-steps 6000`` (47 k
  samples; 4 minutes' rendering, 5 training): recall 0.9227 and 0.9317 at precision 0.9984
  and 0.9938 (at threshold 0.95: 0.9373 and 0.9462 at 0.9938 and 0.9924); the real ALOKA
  marker 0.833 (W 0.9831), examples_rgb_color's false mark vetoed, but test_caliper_net fails
  (philips_epiq 184's cyan 'x' on elastography lost, philips_epiq 215's false arrow kept).
* V2c as V2a with ``--sample-focus 700 --refine-steps 14000`` (78 k samples; 6 minutes'
  rendering, 15 training): recall 0.9417 and 0.9462 at precision 1.0000 and 0.9969, error
  max 2.00 and 3.16 px (the refiner's misses 31 -> 23 and 18 -> 15); held-out (measured
  only) recall 0.9223, precision 0.9948, error max 4.00 px. Not taken: the real ALOKA focus
  marker at 0.9999 (the false mark (33, 247) again), a true rule mark of philips_epiq 215
  vetoed (453, 211) and ge_logiq 114's large white 'x' (546, 467) lost (test_caliper_net).
* V2d as V2c with ``--sample-ui 600`` (92 k samples, 27.6 k of them UI points, half of them on
  the whole frame; 4 minutes' rendering of the UI samples, 7-11 training): recall 0.9475 and
  0.9477 at precision 1.0000 and 0.9969, error max 2.24 and 3.16 px (refiner misses 31 -> 18
  and 18 -> 14; arrows 0.733 -> 0.800 on seeds 100-139, JPEG 0.852 -> 0.894, elastography
  0.600 -> 0.700; ge_logiq of seeds 200-239 0.910 -> 0.893); held-out (measured only) recall
  0.9102 -> 0.9320 at precision 0.9973 -> 0.9974, error max 3.16 -> 4.12 px (bk, philips
  affiniti, siemens juniper, supersonic up; mindray_dc 0.846 -> 0.769, hitachi_aloka
  0.925 -> 0.900). The real ALOKA focus marker 0.9791 (no false mark) and examples_rgb_color's
  known false mark vetoed (its strict xfail passes), but not taken: a false mark on the four
  US1 files (LOGIQ 700 power Doppler, (622, 258), refiner 0.992: test_real_files),
  ge_voluson 278's small green JPEG 'x' (636, 301) lost and philips_epiq 215's true rule
  mark (453, 211) vetoed (test_caliper_net, as F3 and V2c). Thresholds do not save it
  (tried, not measured on the tuning seeds): NET_REFINE_PROB 0.995 and NET_VETO_PROB 0.0005
  leave the false mark on two of the US1 files, ge_voluson 278's mark lost, and keep
  philips_epiq 215's false arrow (622, 320) that the veto should take. Next: the veto (version 2's
  probabilities on true rule marks go lower than version 1's: NET_VETO_PROB per version, or
  no veto by version 2), a threshold chosen for version 2 on the tuning seeds (the US1 mark
  is at 0.992), and real-like negatives at the colour box's edge (US1's mark is there).
Per-version thresholds, ``--sample-edges`` and ``--edge-glyphs`` (V2e, V2f; not taken).
Corrections to the V2d notes: philips_epiq 215's rule mark (453, 211) is no true mark (165 px
from every caliper point of that frame): version 2 vetoing it is right, and test_caliper_net
now asks that the veto take no *true* mark of the rules; US1's false mark (622, 258) is a small
white dot on the field of view's right border beside the PWR colour bar, not at the colour
box's edge; the real ALOKA one is a green focus-marker triangle over the field of view's left
border. ``calipers.NET_REFINE_PROB`` and ``NET_VETO_PROB`` are now per refiner version (both
versions 0.99 and 0.01). Replaying ``_net_marks`` on recorded tuning frames at other
thresholds (seeds 100-139 / 200-239, 40 frames a family), V2d: refine 0.99 -> 0.95 -> 0.90
gives recall 0.9475 -> 0.9563 -> 0.9636 / 0.9477 -> 0.9593 -> 0.9608 with the same false
marks (0 / 2 at veto 0.01; any veto from 0.0005 to 0.02 takes no true mark; without it one
and two more false marks); the threshold is set by the real files, not the tuning frames.
Both with V2d's command plus ``--sample-edges 600`` (negatives on the outlines of the UI
boxes on the image, Doppler, elastography and zoom boxes, and on the field of view's border:
:func:`edge_points`, 17.9 k samples, a quarter of a batch's other negatives; 6 minutes'
rendering, 14-15 training), ``--cache C`` holding V2d's sample caches:

* V2e (no glyphs; ``--coarse W --refiner-version 2 --sample-screens 600 --sample-focus 700
  --sample-ui 600 --sample-edges 600 --refine-steps 14000``): tuning recall at refine 0.99
  0.9417 / 0.9520, precision 1.0000 / 0.9985; real files: US1 0.94-0.98 (no false mark),
  but the ALOKA focus marker 0.9975 (the false mark (33, 247) again) and a false mark on
  examples_rgb_color (306, 104) at 0.9978. A min
  over the patch and its mirror image (tried as a monkeypatch, not kept) took US1 below 0.1
  and examples_rgb_color to 0.989 but left ALOKA at 0.9973 and cost about 0.01 tuning recall
  at every threshold.
* V2f, V2e's command with ``--edge-glyphs`` (half the edge samples get a filled triangle, a
  focus marker, or a small bar, a depth tick, in a UI colour over their centre:
  :func:`draw_glyph`; 17.9 k edge samples, 4 minutes' rendering, 14 training): every real
  file's highest verdict on a false point below 0.94 (US1 0.15-0.32, ALOKA < 0.1,
  examples_rgb_color 0.934; JPGLosslessP14SV1's true hollow crosses 0.81), and
  examples_rgb_color's known false rule mark vetoed (its strict xfail XPASSes). Refine
  threshold from the replay: the lowest with precision >= 0.995 on both tuning groups, 0.97
  (0.99: 0.9431 / 0.9491 at 1.0000 / 0.9969; 0.95: 0.9519 / 0.9578 at 1.0000 / 0.9940).
  ``python -m benchmarks.caliper_misses`` with ``NET_REFINE_PROB[2] = 0.97``, W -> V2f:
  tuning recall 0.9286 -> 0.9490 and 0.9433 -> 0.9549, precision 1.0000 -> 1.0000 and
  0.9954 -> 0.9970, error max 3.16 -> 5.00 and 3.16 -> 3.16 px (per family, seeds 100-139 /
  200-239: ge_logiq 0.941 -> 0.956 / 0.910 -> 0.926, ge_voluson 0.910 -> 0.917 / 0.931 ->
  0.954, philips_epiq 0.925 -> 0.967 / 0.942 -> 0.950, philips_iu22 0.970 -> 0.985 / 0.984
  -> 0.992, siemens_s2000 0.903 -> 0.929 / 0.951 -> 0.951; arrows 0.733 -> 0.800 / 0.759 ->
  0.778, JPEG 0.852 -> 0.886 / 0.903 -> 0.922, elastography 0.600 -> 0.700 / 0.769 ->
  0.788); held-out seeds 0-9 (measured only) recall 0.9102 -> 0.9442, precision 0.9973 ->
  0.9898, error max 3.16 -> 4.47 px (at 0.99: 0.9248 at 0.9974, 4.47 px). Not taken: the
  held-out error max and precision, and the tests: test_caliper_points (a tuning mark 5.0 px off:
  siemens_s2000 108's large 'x' (306, 380), placed by the refiner), test_caliper_styles
  (a thick white arrow of ge_logiq 9 5.1 px off), test_caliper_net (ge_voluson 278's green
  'x' lost again), test_real_files (examples_rgb_color's strict xfail XPASSes: right, the
  entry would go), and test_caliper_equivalence's fixture (5 frames change).

Version 3 (V3, the committed weights): V2f's verdict, W's placement. No training:
``python tools/train_caliper_net.py --combine V2f.pt W.pt --out caliper_net.pt`` keeps V2f's
heat map (W's, unchanged) and version 2 refiner (``refine.*``, the verdict) and adds W's
version 1 refiner as ``refine_place.*`` (its offsets place every refined point); with
V2f = /tmp/v2fix/v2f.pt (sha256 22326be9...) and W = the previous caliper_net.pt (bfae404e...)
the file's sha256 is 079e076b... (the same bytes on a second run). Both refiners
run on every point: CPU ms per frame (``python -m benchmarks.caliper_refiner_cpu W V2f V3``,
one run, one thread, seeds 100-109, 2.8 points a frame) W 0.53 (median 0.65), V2f 0.71
(0.78), V3 1.19 (1.38). V2f's offsets replaced by W's: at refine 0.97 the same recall and
precision as V2f, tuning max error 5.00 -> 3.16 px (siemens_s2000 108's large 'x' now within
2 px), but ge_logiq 9's thick white arrow of test_caliper_styles still 5.0 px off (V2f's
verdict 0.9733; W's refiner places it there too) and ge_voluson 278's small green 'x'
(test_caliper_net) still lost (V2f's verdict 0.197, W's 0.997). Hence the rule
(``calipers._net_marks``): a heat-map point is a mark when the version 2 verdict is at least
``NET_REFINE_PROB[3]`` = 0.98 *or* the placing version 1 refiner's at least
``NET_PLACE_PROB`` = 0.99 (W's own rule); the veto is the version 2 refiner's (< 0.01).
Thresholds from the replays of the tuning frames (seeds 100-139 / 200-239, recording both
refiners' probabilities, each replay matching detect_calipers' points on every frame) and the
tuning tests: refine (v2, v1) (0.97, never) recall 0.9490 / 0.9549; (0.98, 0.99) 0.9490 /
0.9549; (0.97, 0.99) 0.9504 / 0.9564, all at precision 1.0000 / 0.9970, max error 3.16 px;
0.98 rather than 0.97 for ge_logiq 9's arrow. W -> V3 (``detect_calipers``' points, the
same recordings): tuning recall 0.929 -> 0.949 and 0.943 -> 0.955, precision 1.000 -> 1.000
and 0.995 -> 0.997, max error 3.16 -> 3.16 px both; per family (100-139 / 200-239) ge_logiq
0.941 -> 0.956 / 0.910 -> 0.918, ge_voluson 0.910 -> 0.924 / 0.931 -> 0.954, philips_epiq
0.925 -> 0.967 / 0.942 -> 0.958, philips_iu22 0.970 -> 0.985 / 0.984 -> 0.992,
siemens_s2000 0.903 -> 0.922 / 0.951 -> 0.951; per style '+' 0.970 -> 0.973 / 0.962 ->
0.973, 'x' 0.942 -> 0.973 / 0.955 -> 0.966, arrows 0.733 -> 0.789 / 0.759 -> 0.778 (precision
0.953 -> 0.977 on 200-239), JPEG 0.852 -> 0.886 / 0.903 -> 0.922, elastography 0.600 ->
0.700 / 0.769 -> 0.788. Held-out seeds 0-9 (measured only, after the choice): recall 0.910
-> 0.942, precision 0.997 -> 0.997, max error 3.16 -> 3.16 px; no family's recall lower
(supersonic_aixplorer 0.667 -> 0.833, bk 0.864 -> 0.955, siemens_juniper 0.906 -> 0.969,
philips_cx50, hitachi_aloka, samsung_rs, terason, esaote, siemens_sequoia, sonosite_edge and
zoom the same), 'x' 0.911 -> 0.970, arrows 0.857 -> 0.900, '+' 0.931 -> 0.931, elastography
0.500 -> 0.625; the largest error per family rises for a few (canon_aplio 1.00 -> 2.24,
supersonic_aixplorer 1.00 -> 2.83: newly found marks). test_caliper_equivalence re-recorded:
philips_epiq 5 gains a true mark (619, 427), 1 px from the drawn (619, 428); ge_voluson 2,
philips_iu22 1 and siemens_s2000 0 change only a learned mark's score (now the version 2
verdict). examples_rgb_color's strict xfail still holds (V2f alone vetoed its false mark; not
analysed which of W's verdicts keeps it).

Point error (tuning frames, V2d and V2f at 0.99, ``/tmp``-recorded replays): of the 7-12
matched marks more than 2 px off, 5 are pairs of true marks 3.6-7.1 px apart (philips_epiq
139, siemens_s2000 234, ge_voluson 210 and 236: one found point for two drawn marks, most by
the rules), one an 'x' the arrow rule takes (siemens_s2000 229, 2.83 px), the rest the
refiner's offsets (arrow tips 2.2-3.2 px, V2f's large 'x' of siemens_s2000 108 5.0 px): no
sub-pixel rounding (the generator's points are integers, the samples' targets the drawn
shift back). Version 2's offsets vary from run to run (V2f's regression loss ended at
0.125 against V2e's 0.060); the overlapping pairs bound the max error from below whatever
the refiner does. Refiner CPU ms per frame (``benchmarks.caliper_refiner_cpu W V2f``, as
below, one run): W 0.573 (median 0.668), V2f 0.740 (median 0.841).
Refiner CPU ms per frame (``python -m benchmarks.caliper_refiner_cpu W V2``, tuning seeds
100-109, the calls detect_calipers makes, 2.8 points a frame, best of 7, one thread, two runs):
W 0.58-0.60 (median 0.69-0.74), version 2 0.80-0.84 (median 0.85-0.91; 1.43-1.51 before its
context was summed with strided adds); detect_calipers takes about 27 ms a frame.

``--hues N --keep-refiners`` (the heat map of the committed version 3 file W3, sha256
079e076b..., fine-tuned on calipers in other colours; its refiners kept; not taken, the
committed weights are still W3): :func:`hued_screen` draws ``N`` screens per tuning family
(seeds from :data:`HUE_SEED`) with their calipers in a random hue (:func:`random_hue`), in
white on speckle with 4-12 % of the field of view at full white, or in their own colours, an
elastography box on about a fifth and a further share re-encoded as JPEG; their windows
(around every caliper point, mined around the heat map's misses and false points, texts,
random) join the first windows (31.4 k new, 14.1 k first) and the heat map trains on at
``--focus-lr``. One thread, a 2-core machine loaded by four other jobs (load 7-10),
``--cache C``; ``python -m benchmarks.caliper_misses tuning --seed 100 --frames 340``
(seeds 100-439, 5,568 marks; W3: 5,485 matched, 24 false or second marks, 21 more than
2 px off, max 4.47 px) and ``--seed 100 --frames 100 --caliper-colours unseen`` (1,588
marks; W3: 1,406 matched, 25 false or second, 41 > 2 px, max 5.00 px):

* H1 ``--coarse W3 --keep-refiners --hues 500 --steps 8000 --cache C`` (focus learning rate
  1e-3; 40 minutes: 8 rendering the first windows, 11 the hued ones, 22 training): tuning
  5,481 matched (-4), 46 false or second (+22; learned points 16 -> 36, on Doppler 13 -> 20,
  on elastography 4 -> 14), 24 > 2 px (+3), max 4.24 px; misses by cause no heat 28 -> 17,
  heat < 0.2 6 -> 14, refiner < 0.98 42 -> 50. Unseen colours 1,412 matched (+6), 45 false
  (+20), 45 > 2 px; there no heat 143 -> 23 but refiner < 0.98 20 -> 138: the heat map now
  fires on the other hues, the refiners (trained on yellow, green, cyan and white) refuse
  them. Real files pass; test_caliper_net (philips_epiq 5's thin JPEG arrow lost, philips_epiq
  215 (320, 403) and ge_voluson 304 (406, 455) lost) and test_caliper_styles (ge_logiq 6's
  thick white arrow taken by the learned finder 5.1 px off) fail.
* H2 as H1 with ``--steps 3000 --focus-lr 4e-4`` (12 minutes with the cache): tuning 5,483
  matched (-2), 44 false or second (+20), 30 > 2 px (+9), max 4.24 px; real files pass, five
  tests of test_caliper_net and test_caliper_styles fail (ge_logiq 157's arrow tip among them).

Neither was measured on held-out frames (neither passed the tuning seeds). A heat map that
fires on more marks gains nothing while the refiners judge them: the next try retrains the
refiners (``--refiner-version 2`` samples) on the same hued screens, with hued negatives on
Doppler and elastography maps, which did not fit this session (about 35 minutes of rendering
and training with V2f's recipe on a quiet machine).

``--refiner-version 2 --refine-from W3 --sample-hues N`` (W3's version 2 verdict refiner
fine-tuned on hued screens; not taken, the committed weights are still W3):
:func:`render_samples` on ``N`` :func:`hued_screen` screens per tuning family (seeds from
:data:`HUE_SAMPLE_SEED`; the caliper points in random hues, white on bright speckle or the
family's own colours), the hard negatives mined with W3's heat map and ``--mine-with``'s
(H1 above), and up to :data:`SAMPLE_MAP` negatives a screen on colour pixels (kind ``map``:
Doppler and elastography maps, :data:`MAP_SHARE` of a batch's hard quarter), mixed with
default-screen samples (``--sample-screens``, ``--sample-ui``, ``--sample-edges
--edge-glyphs``) so the old styles stay; ``--distill`` and ``--anchor`` keep W3's verdicts and
weights (:func:`_keep_teacher`); then ``--combine NEW W3 --out F`` (a version 3 ``PLACE`` gives
its placing refiner; ``--combine-heat H`` takes H's heat map). Rendering, once, one thread,
a 2-core machine loaded by four other jobs (load 4-10), into ``--cache /tmp/refiner/cache``:
hued samples 17 minutes (500 a family; 91.6 k samples in all: 14.9 k points, 28.2 k false
heat-map points, 14.6 k UI, 19.1 k other, 4.4 k edge, 10.4 k map), default 11 (400), UI 2.4
(150), edges 2.8 (150). The command (J2; J3 with ``--anchor 0.01 --refine-steps 4000``)::

    PYTHONPATH=. python tools/train_caliper_net.py --coarse W3 --refiner-version 2 \\
        --refine-from W3 --sample-screens 400 --sample-ui 150 --sample-edges 150 \\
        --edge-glyphs --sample-hues 500 --mine-with H1 --distill 1 --anchor 0.1 \\
        --refine-steps 5000 --cache C --out J2.pt
    PYTHONPATH=. python tools/train_caliper_net.py --combine J2.pt W3 --out R2.pt

W3 scores only 0.54 of the hued samples' caliper points >= 0.98 at their centre (0.44 of the
coloured ones, 0.70 of the white ones; default samples 0.94); after J2 (15 minutes) 0.57, J3
(8.5 minutes) 0.59 (coloured 0.50): fine-tuning held by the teacher learns other hues slowly,
and what it learns accepts colour-map points. ``python -m benchmarks.caliper_misses tuning
--seed 100 --frames 340 --weights F`` (W3: 5,485 matched, 24 false or second, 21 > 2 px, max
4.47 px): R2 5,485 matched, 32 false (new ones on Doppler and elastography: ge_logiq 278,
ge_voluson 319, 380, philips_iu22 157), 21 > 2 px, max 4.47; R3 5,484, 35 false, 22 > 2 px,
max 5.00 px. Unseen colours (``--seed 100 --frames 100 --caliper-colours unseen``; W3 1,406
matched, 25 false, 41 > 2 px, max 5.00): R2 1,420, 28, 43, 5.00; R3 1,421, 40, 45, 5.00.
J3's verdict with H1's heat map (``--combine J3.pt W3 --combine-heat H1``), unseen colours:
1,427 matched, 55 false, 48 > 2 px (H1 with W3's refiners: 1,412, 45, 45; tuning not
finished). J4, J3's command with ``--hued-grey-points`` (the 4.7 k hued caliper points with a
coloured pixel within 3 px dropped: white marks on bright speckle the only hued positives,
every hued negative kept; 12.6 minutes): tuning 5,489 matched (+4; refiner < 0.98 42 -> 37,
white 0.971 -> 0.973, arrows 0.943 -> 0.947), 31 false or second (+7: on Doppler ge_logiq 278
and ge_voluson 319 and 380, elastography philips_iu22 157, large arrows), 23 > 2 px, max
4.47 px; unseen colours 1,407 matched, 28 false, 42 > 2 px, max 5.00; test_real_files passes
with it. None passed the tuning seeds (false marks up each time), so none was measured on
held-out frames.

A version 2 verdict refiner trained from scratch on the whole mix (K1; not taken, the
committed weights are still W3): no ``--refine-from``, the same four sample caches (86,954
samples after ``--hued-grey-points``: 10,240 points, 28,175 false heat-map points, 14,638 UI,
19,074 other, 4,449 edge, 10,378 map), 14,000 steps of batch 64 at the new refiner's
learning rate (30 minutes, one thread, ``nice``, a 2-core machine loaded by other jobs, load
3-7), then combined with W3's placing refiner::

    PYTHONPATH=. nice python tools/train_caliper_net.py --coarse W3 --refiner-version 2 \\
        --sample-screens 400 --sample-ui 150 --sample-edges 150 --edge-glyphs \\
        --sample-hues 500 --mine-with H1 --hued-grey-points --refine-steps 14000 \\
        --cache C --out K1.pt
    PYTHONPATH=. python tools/train_caliper_net.py --combine K1.pt W3 --out RK1.pt

(K1.pt sha256 2af98dfc..., RK1.pt 49e1c13a..., 220,950 bytes.) Tuning seeds 100-439 (W3 ->
RK1): 5,485 -> 5,478 matched, 24 -> 27 false or second, 21 -> 21 > 2 px, max 4.47 -> 4.47 px;
misses refiner < 0.98 42 -> 49. Of W3's false marks 12 are gone (Doppler and elastography:
ge_logiq 278 x2, ge_voluson 319 x4, philips_epiq 352 x2, ...) and 15 new ones come, five on
plain screens (ge_logiq 240, 294, 335, philips_epiq 305, philips_iu22 338), the rest on
Doppler and large arrows. By colour: white 0.971 -> 0.975, green 0.983 -> 0.977, cyan 0.997
-> 0.992, yellow 0.989 -> 0.991. Unseen colours, seeds 100-199 (W3: 1,406 matched, 25
false): 1,409 matched, 39 false, 46 > 2 px, max 5.00 px. test_real_files passes; 38 of
the 692 caliper tests fail with it (all pass with W3): the equivalence fixture (5), white
saturated marks (8), numbered arrows (6), arrow snaps (4), unseen colours (4), and others. The share
of cached samples scored >= 0.98 at the centre (1,500 of each, W3 -> K1): default points grey
0.911 -> 0.934, coloured 0.937 -> 0.915; hued points grey 0.671 -> 0.831, coloured 0.464 ->
0.497; map negatives 0.003 -> 0.000: from scratch it learns the white marks on bright speckle
but loses some of the default coloured marks. Not measured on held-out frames (it did not
pass the tuning seeds).

K2 (not taken, the committed weights are still W3): K1 with the committed refiner's (V2f's)
whole default data and every hued sample, no ``--hued-grey-points`` (161,908 samples: 24,654
points, 8,040 of them hued; 43,460 false heat-map points, 33,448 UI, 32,086 other, 17,882
edge, 10,378 map; the 600/700/600/600 caches rendered in 30 minutes, two processes of one
thread on a 2-core machine loaded by other jobs, load 5-8; 14,000 steps in 38 minutes)::

    PYTHONPATH=. nice python tools/train_caliper_net.py --coarse W3 --refiner-version 2 \\
        --sample-screens 600 --sample-focus 700 --sample-ui 600 --sample-edges 600 \\
        --edge-glyphs --sample-hues 500 --mine-with H1 --refine-steps 14000 --cache C \\
        --out K2.pt
    PYTHONPATH=. python tools/train_caliper_net.py --combine K2.pt W3 --out RK2.pt

(K2.pt sha256 8a7cf918..., RK2.pt b7fff100..., 220,950 bytes.) Tuning seeds 100-439 (W3 ->
RK2): 5,485 -> 5,483 matched, 24 -> 41 false or second, 21 -> 26 > 2 px, max 4.47 -> 5.00
px (siemens_s2000 113's small green arrow, two points 5.0 px off); misses refiner < 0.98
42 -> 40, no heat 28 -> 27, heat < 0.2 6 -> 6, blocked 0 -> 4. Of the 21 new false marks 16
are on Doppler and elastography maps (ge_voluson 319 x3, philips_iu22 233 x2, 108, 157, 192,
ge_voluson 110, 113, 208, philips_epiq 225, 372, ge_logiq 198, 438, siemens_s2000 198), five
on plain or dual screens (ge_logiq 157, 217, 335, ge_voluson 172, siemens_s2000 113); four
of W3's are gone (ge_logiq 278 x2, 357, philips_epiq 152). Per family recall the same
within 0.003 (ge_logiq 0.983 -> 0.982, ge_voluson 0.983 -> 0.982, philips_epiq 0.987 ->
0.987, philips_iu22 0.995 -> 0.993, siemens_s2000 0.978 -> 0.980), precision lower in every
family (Doppler 0.982 -> 0.972, elastography 0.986 -> 0.972). Unseen colours, seeds 100-199
(W3: 1,406 matched, 25 false, 41 > 2 px, max 5.00): 1,436 matched, 53 false, 51 > 2 px, max
5.00 px (refiner < 0.98 misses 20 -> 9). test_real_files fails (6): a false mark (622, 258)
on US1_J2KI and US1_UNCI (V2d's white dot beside the PWR bar again), (461, 209) on US1_J2KR,
US1_UNCR (two tests) and examples_jpeg2k; 52 of the 692 ``-k caliper`` tests fail (white saturated
marks 8, arrow snaps 8, real files 6, unseen colours 6, numbered arrows 5, the equivalence
fixture 5, test_caliper_net 3, the demo corpus 2, and others). Share of cached samples
scored >= 0.98 at the centre (1,500 of each, W3 -> K1 -> K2; default = the 600-screen
cache): default points grey 0.902 -> 0.932 -> 0.875, coloured 0.943 -> 0.905 -> 0.911;
hued points grey 0.663 -> 0.828 -> 0.747, coloured 0.451 -> 0.498 -> 0.763; false heat-map
points 0.000 -> 0.000 -> 0.002; map negatives 0.001 -> 0.000 -> 0.000. The full default data
did not keep the default marks: most likely the hued coloured positives (a third of the
points) teach the verdict to accept coloured pixels, and it takes points on colour maps and
loses some ordinary marks; K1's grey-only hued positives kept the maps out but lost the
coloured marks. Not measured on held-out frames (it failed the tuning seeds and the real
files). K3 (K2's command with ``--hued-grey-points``, started beside K2 for the deadline) was
stopped at step 2,000 of 14,000 to let K2 finish, and rerun alone (next paragraph).

K3 (not taken, the committed weights are still W3): K2's command and caches (not
re-rendered) with ``--hued-grey-points`` (157,214 samples: 19,960 points, 43,460 false
heat-map points, 33,448 UI, 32,086 other, 17,882 edge, 10,378 map; 14,000 steps in 18
minutes, one thread, ``nice -n 19``, load 4-5; last logged cls 0.0095, reg 0.0587)::

    PYTHONPATH=. nice -n 19 python tools/train_caliper_net.py --coarse W3 \
        --refiner-version 2 --sample-screens 600 --sample-focus 700 --sample-ui 600 \
        --sample-edges 600 --edge-glyphs --sample-hues 500 --mine-with H1 \
        --hued-grey-points --refine-steps 14000 --cache C --out K3.pt
    PYTHONPATH=. python tools/train_caliper_net.py --combine K3.pt W3 --out RK3.pt

(K3.pt sha256 eff6ea1a..., RK3.pt c413f7a8..., 220,950 bytes.) Tuning seeds 100-439 (W3 ->
RK3): 5,485 -> 5,492 matched, 24 -> 32 false or second, 21 -> 25 > 2 px, max 4.47 -> 5.00
px (siemens_s2000 113's small green arrow again); misses refiner < 0.98 42 -> 33, no heat
28 -> 27, heat < 0.2 6 -> 6, refined off 2 -> 1, blocked 0 -> 3. 15 new false marks, 8 on
Doppler and elastography (ge_voluson 319 x2, 113, 208, ge_logiq 329, philips_epiq 372,
philips_iu22 157, 432) and 7 on plain or dual screens (ge_voluson 172 x2, ge_logiq 217,
387, philips_epiq 305, siemens_s2000 208, 391); 6 of W3's are gone (ge_logiq 278 x2, 357,
philips_epiq 352, philips_iu22 233 x2), and its second mark on philips_epiq 152. Per family
recall ge_logiq 0.983 -> 0.982, ge_voluson 0.983 -> 0.986, philips_epiq 0.987 -> 0.985,
philips_iu22 0.995 -> 0.995, siemens_s2000 0.978 -> 0.984; precision 0.995 -> 0.995, 0.994
-> 0.990, 0.995 -> 0.995, 0.997 -> 0.997, 0.996 -> 0.994. By style (W3 -> RK2 -> RK3)
precision Doppler 0.982 -> 0.972 -> 0.986, elastography 0.986 -> 0.972 -> 0.972, dual 1.000
-> 0.994 -> 0.998, white 0.993 -> 0.987 -> 0.991, green 0.997 -> 0.993 -> 0.995; recall
white 0.971 -> 0.972 -> 0.972, arrows 0.943 -> 0.944 -> 0.947. Unseen colours, seeds
100-199 (W3: 1,406 matched, 25 false, 41 > 2 px, max 5.00, refiner < 0.98 misses 20): 1,422
matched, 36 false, 42 > 2 px, max 5.00 px (refiner < 0.98 misses 13). test_real_files
passes (157 passed, 1 xfailed: K2's false marks beside the PWR bar are gone); 33 of the 692
``-k caliper`` tests fail (the equivalence fixture 5, white saturated marks 5, numbered
arrows 5, arrow snaps 4, test_caliper_net 4, unseen colours 3, hues 2, rec4 map texture 2,
smeared learned 2, bf16 1). Share of cached samples scored >= 0.98 at the centre (1,500 of
each, W3 -> K2 -> K3): default points grey 0.902 -> 0.875 -> 0.896, coloured 0.943 -> 0.911
-> 0.947; hued points grey 0.663 -> 0.747 -> 0.709, coloured 0.451 -> 0.763 -> 0.480; false
heat-map points 0.000 -> 0.002 -> 0.000; map negatives 0.001 -> 0.000 -> 0.000. The grey-only
hued positives keep the default coloured marks and the real files, and take more of the
tuning marks than W3 (refiner < 0.98 misses 42 -> 33), but false marks still rise (24 ->
32, new ones on plain screens as well as on maps): it fails the tuning seeds. Not measured
on held-out frames; weights not committed.

Two verdicts at once (not taken, the committed weights are still W3): W3's deciding refiner
and K3's (above) on every point, no training; the logits combined (a patch of
``CaliperNet`` with a ``refine_second.*`` entry set, 0.32 MB of weights). Tuning seeds
100-439, W3 -> combined: the mean of both logits for every verdict 5,485 -> 5,490 matched,
24 -> 24 false or second (5 of W3's gone, 5 new), 21 -> 23 > 2 px, max 4.47 -> 5.00 px
(siemens_s2000 113's small green arrow); K3 weighted 0.65: the same counts; the minimum
5,469 / 16 false; the mean of W3, K2 and K3 5,488 / 28. Unseen colours, seeds 100-199
(the mean): 1,406 -> 1,408 matched, 25 -> 30 false. test_real_files passes; 25 of the 694
``-k caliper`` tests fail, among them the guards against learned marks on box edges,
speckle, colour-map texture, numerals and crosses read as arrows. The mean as a second
chance only (a point is sure where W3 or the mean is at least 0.98; every other rule and
the mirrored verdicts W3's alone): 5,485 -> 5,488 matched, 24 -> 25 false, 21 -> 21 > 2 px,
max 4.47; unseen colours 1,408 matched, 25 false; 3 of the caliper tests fail (2 on thin
white arrows now taken by the sure rule instead of the arrow rule). Neither moves the tuning
figures beyond a few marks in 5,568 (the second chance: +3 marks, +1 false), for 0.1 MB of
weights and a second refiner pass on every point: not taken; held-out not measured.

``--mine-detector N`` (a mining round on W3's own errors; not taken, the committed weights are
still W3): :func:`render_detector_samples` runs the full detector (``detect_calipers`` with
the rules, ``--refine-from``'s weights, the frame prepared as ``benchmarks.caliper_misses``
prepares it) on ``N`` screens per *tuning* family (seeds from :data:`DETECTOR_SEED`, 480,000
on: no overlap with 0-439), and :func:`mined_centres` turns its false points (farther than
:data:`REFINE_AWAY` px from every caliper point; with the heat-map point nearest each) into
``mined_false`` negatives and the caliper points its verdict refiner refused (the
``refiner <`` cause) or it placed more than :data:`MINED_OFF` px off into ``mined_point``
positives, cut from the crop it searched; ``--mine-near`` adds its near misses
(:func:`_near_misses`: heat-map points away from every mark that W3's verdict gives at least
:data:`MINED_NEAR`, up to :data:`MINED_NEAR_MAX` a screen, ``mined_near``). In training the
mined samples are :data:`MINED_SHARE` of each batch (4 positives of the 32, 4 negatives of
the 16 hard ones). Mined on 2,000 screens a family (10,000 frames; two processes of one
thread, 12-16 minutes): 577 positives, 339 false points, 758 near misses; W3 itself gives
0.456 of the mined positives and 0.195 of the false points >= 0.98 at their centre (most
false marks are the rules' or the other learned rules', not the verdict's). Default samples
as J2's, smaller (5,226 points, 7,306 false heat-map points, 6,285 UI, 6,885 other, 3,001
edge), one thread, ``nice``, a 2-core machine, 4000-5000 steps in 7-10 minutes::

    PYTHONPATH=. nice python tools/train_caliper_net.py --coarse W3 --refiner-version 2 \\
        --refine-from W3 --sample-screens 300 --sample-ui 100 --sample-edges 100 \\
        --edge-glyphs --mine-detector 2000 [--mine-near] --distill 1 --anchor A \\
        --refine-steps S --cache C --out M.pt
    PYTHONPATH=. python tools/train_caliper_net.py --combine M.pt W3 --out RM.pt

Tuning seeds 100-439 (W3, remeasured: 5,485 matched, 24 false or second, 21 > 2 px, max 4.47
px, misses refiner < 0.98 42) and unseen colours (seeds 100-199; W3 1,406 matched, 25 false):

* M1 (``--anchor 0.1``, 5000 steps; RM1 sha256 e35f73e2...): 5,481 matched, 25 false or
  second, 22 > 2 px, max 4.47 px, refiner < 0.98 45; unseen 1,405 matched, 27 false. Mined
  samples >= 0.98 at the centre: positives 0.456 -> 0.466, false points 0.195 -> 0.088.
* M2 (``--anchor 0.01``, 4000 steps; RM2 4299c3ff...): 5,486 matched, 33 false or second
  (new ones on Doppler and elastography maps: ge_voluson 319 x4, 110, 380, ge_logiq 278,
  philips_iu22 157, and philips_epiq 305, 341, siemens_s2000 170, 208), 26 > 2 px, max 5.00
  px, refiner < 0.98 38; unseen 1,417 matched, 31 false. Mined: positives 0.541, false
  points 0.021.
* M3 (M2 with ``--mine-near``; RM3 810a6343...): 5,480 matched, 25 false or second, 23 > 2
  px, max 4.47 px, refiner < 0.98 44; unseen 1,404 matched, 27 false. Mined: positives
  0.480, false points 0.059.
* M4 (M3 with ``--anchor 0.03``; RM4 bf41375d...): 5,478 matched, 23 false or second (five of
  W3's gone, four new: ge_voluson 110, 319, philips_epiq 305, philips_iu22 157), 21 > 2 px,
  max 4.47 px, refiner < 0.98 47; unseen 1,406 matched, 27 false. Mined: positives 0.475,
  false points 0.094.
* M5 (M3 with ``--anchor 0.003``; RM5 880f3c82...): 5,479 matched, 23 false or second (four
  new, ge_voluson 319, 380, philips_epiq 305, philips_iu22 157; five of W3's gone), 25 > 2
  px, max 5.00 px, refiner < 0.98 46 (unseen colours not measured).
* M6 (M2 with the mined positives left out of the cache: the 339 false points alone, 8 of
  each batch's 16 hard negatives; RM6 4bad82f4...): 5,471 matched, 26 false or second, 25 > 2
  px, max 5.00 px, refiner < 0.98 52 (unseen colours not measured).

None passed the tuning seeds (matched >= 5,489 with <= 24 false or second and <= 21 > 2 px),
so none was tested against the caliper tests or measured on held-out frames. The mined
errors are few (916 samples, 1,674 with the near misses, in 10,000 frames) and unlike each other;
fine-tuned on them the verdict moves as in R1-R5 and J2-J4: loosely held (anchor 0.01) it
takes a few more marks (refiner misses 42 -> 38) and accepts colour-map texture it never saw
as a negative (+9 false), held firmly (0.1) or given the near misses it grows stricter
(refiner misses 44-47, M5 46 even at anchor 0.003) and loses marks; the false points alone
(M6) lose the most. The next try, if any: far more mined screens (the false points on maps
are a few dozen in 10,000 frames) before another fine-tune.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from cadbusi_assets.ultrasound import caliper_net
from cadbusi_assets.ultrasound.calipers import ARM
from cadbusi_demo import screens_heldout as gen

OUT = Path(__file__).resolve().parents[1] / "cadbusi_assets/ultrasound/models" / caliper_net.WEIGHTS
FIRST_SCREEN_SEED = 400_000
FAMILIES = (*gen.TUNING_FAMILIES, gen.DEMO_FAMILY)
WINDOW = 96
RANDOM_WINDOWS = 3
#: Windows on a screen's texts (glyphs such as 'x' and '+' in a line are no marks).
TEXT_WINDOWS = 2
#: Mining: screens per family (seeds from MINE_SEED on), the model's false points taken
#: from this probability on, at most this many windows of them per screen.
MINE_SCREENS = 160
MINE_SEED = FIRST_SCREEN_SEED + 10_000
MINE_PROB = 0.3
MINE_WINDOWS = 6
#: Caliper points per window: at most this many (the rest padded with -1).
MAX_POINTS = 12
POS_WEIGHT = 10.0
#: Refiner: the share of a batch's caliper points that are arrow tips (rare among the
#: screens' marks, and their point is not the centre of the mark as a cross's is).
ARROW_SHARE = 0.25
#: Refiner: caliper points up to this far (px, each axis) from a patch's centre are targets;
#: negatives lie farther than REFINE_AWAY px from every caliper point.
REFINE_SHIFT = 5
REFINE_AWAY = 8
#: ``--distill``: the teacher's logits on negatives are taken at least this (a probability of
#: about 0.0025: below it, no pull).
DISTILL_FLOOR = -6.0
EDGE = 12
#: ``--focus``: screens per family (seeds from FOCUS_SEED on) of which those in the styles
#: the heat map finds worst (:func:`weak`) give windows (mined around the heat map's misses
#: and false points), and the learning rate of that fine-tune.
FOCUS_SCREENS = 700
FOCUS_SEED = FIRST_SCREEN_SEED + 20_000
FOCUS_LR = 1e-3
#: ``--ui-screens``: windows a screen around its UI graphics (seeds from UI_SEED on), and the
#: share of a refiner batch's negatives drawn in them.
UI_WINDOWS = 3
UI_SEED = FIRST_SCREEN_SEED + 30_000
UI_SHARE = 0.25
#: ``--refiner-version 2``: samples cut from the whole crops of ``--sample-screens`` screens
#: per family (seeds from SAMPLE_SEED on), SAMPLE px a side (the refiner's CONTEXT and the
#: largest shift), at most SAMPLE_HARD of the heat map's false points and SAMPLE_UI points in
#: UI graphics a screen; their kinds.
SAMPLE = caliper_net.CONTEXT + 2 * (REFINE_SHIFT + 1)
SAMPLE_SEED = FIRST_SCREEN_SEED + 40_000
SAMPLE_HARD = 8
SAMPLE_UI = 4
#: ``--sample-edges``: negatives on the outline of each UI box on the image (colour and power
#: Doppler boxes, elastography and zoom boxes) and as many on the border of each screen's
#: field of view (seeds from EDGE_SEED on); the share of a batch's negatives drawn in them.
SAMPLE_EDGE = 4
EDGE_SEED = FIRST_SCREEN_SEED + 50_000
EDGE_SHARE = 0.25
#: ``--edge-glyphs``: the colours of the UI glyphs drawn over edge samples.
UI_COLOURS = ((0, 255, 0), (255, 255, 255), (190, 190, 190), (255, 255, 0), (0, 255, 255))
#: Sample kinds (a cache's ``kinds`` index this tuple: new kinds go at its end).
KINDS = ("point", "heat", "ui", "other", "edge", "map", "mined_point", "mined_false", "mined_near")
#: ``--mine-detector``: screens per tuning family (seeds from DETECTOR_SEED on: no overlap
#: with the evaluation seeds, 0-439) on which the full detector runs; its false points and
#: the caliper points its verdict refiner refuses (or it places more than MINED_OFF px off)
#: become refiner samples (kinds ``mined_false`` and ``mined_point``), MINED_SHARE of every
#: batch (half each, when both kinds are there).
DETECTOR_SEED = FIRST_SCREEN_SEED + 80_000
MINED_OFF = 2.0
MINED_SHARE = 0.125
#: ``--mine-near``: the detector's near misses join the mined negatives (kind ``mined_near``):
#: heat-map points (at least ``NET_MIN_PROB``) farther than REFINE_AWAY px from every caliper
#: point that the verdict refiner gives at least MINED_NEAR, the likeliest MINED_NEAR_MAX a
#: screen.
MINED_NEAR = 0.5
MINED_NEAR_MAX = 4
#: ``--hues``: screens per tuning family (seeds from HUE_SEED on, :func:`hued_screen`) with
#: their calipers drawn in other colours: HUE_SHARE of them in a random hue
#: (:func:`random_hue`), HUE_WHITE_SHARE in white on brighter speckle (HUE_BRIGHT of the field
#: of view at full white; the families draw 0.005-0.05), the rest in the family's own colours;
#: an elastography box on about HUE_ELASTO of them, and HUE_JPEG of those the generator left
#: lossless re-encoded as JPEG (quality HUE_JPEG_QUALITY).
HUE_SEED = FIRST_SCREEN_SEED + 60_000
HUE_SHARE = 0.45
HUE_WHITE_SHARE = 0.35
HUE_BRIGHT = (0.04, 0.12)
HUE_ELASTO = 0.2
HUE_JPEG = 0.3
HUE_JPEG_QUALITY = (55, 92)
#: ``--sample-hues``: refiner samples of :func:`hued_screen` screens (seeds from
#: HUE_SAMPLE_SEED on), with up to SAMPLE_MAP negatives a screen on colour pixels of the
#: crop (chroma, the largest minus the smallest channel, at least MAP_CHROMA: colour and
#: power Doppler and elastography maps, coloured UI) and, in a batch, MAP_SHARE of the heat
#: map's false points' quarter drawn from them.
HUE_SAMPLE_SEED = FIRST_SCREEN_SEED + 70_000
#: ``--hued-grey-points``: the hued samples' caliper points kept only where the 7 x 7 px
#: around the centre has no pixel of chroma GREY_CHROMA or more (white marks on bright
#: speckle; their negatives all kept).
GREY_CHROMA = 60
SAMPLE_MAP = 6
MAP_CHROMA = 40
MAP_SHARE = 0.5


def weak(screen: gen.Screen) -> bool:
    """A screen in one of the styles whose marks the heat map missed most on the tuning
    frames (seeds 100-299): arrows, white marks, elastography, dual views, colour Doppler."""
    return (
        screen.caliper_style.startswith("arrow")
        or screen.caliper_colour == (255, 255, 255)
        or bool(getattr(screen, "elastography", False))
        or bool(getattr(screen, "dual", False))
        or bool(getattr(screen, "doppler", False))
    )


def random_hue(rng: np.random.Generator) -> tuple[int, int, int]:
    """An RGB caliper colour of any hue, saturation 0.4-1 and brightness 0.7-1."""
    hsv = np.array(
        [[[rng.integers(0, 180), rng.integers(102, 256), rng.integers(179, 256)]]], np.uint8
    )
    r, g, b = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0]
    return int(r), int(g), int(b)


def hued_screen(family: str, seed: int) -> gen.Screen:
    """``--hues``: a screen of the tuning ``family`` (seed ``seed``) with its calipers in a
    random hue, in white on brighter speckle, or in the family's own colours, more often with
    an elastography box and JPEG (the shares: :data:`HUE_SHARE` and the constants after it).
    The same (family, seed), the same screen."""
    rng = np.random.default_rng([seed, 7, gen.TUNING_FAMILIES.index(family)])
    spec = gen.FAMILIES[family]
    changes: dict[str, Any] = {}
    colours: tuple[tuple[int, int, int], ...] | None = None
    draw = float(rng.random())
    if draw < HUE_SHARE:
        colours = (random_hue(rng),)
    elif draw < HUE_SHARE + HUE_WHITE_SHARE:
        colours = ((255, 255, 255),)
        changes["speckle_gain"] = HUE_BRIGHT
    if rng.random() < HUE_ELASTO:
        changes["elasto_share"] = 1.0 - spec.doppler_share
    gen.FAMILIES[family] = dataclasses.replace(spec, **changes)
    try:
        screen = gen.render_screen(family, seed, caliper_colours=colours)
    finally:
        gen.FAMILIES[family] = spec
    if screen.jpeg_quality is None and rng.random() < HUE_JPEG:
        quality = int(rng.integers(HUE_JPEG_QUALITY[0], HUE_JPEG_QUALITY[1] + 1))
        _, data = cv2.imencode(".jpg", screen.frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        decoded = cv2.imdecode(data, cv2.IMREAD_COLOR)
        assert decoded is not None  # an image OpenCV just encoded
        frame = np.ascontiguousarray(decoded[..., ::-1])
        screen = dataclasses.replace(screen, frame=frame, jpeg_quality=quality)
    return screen


def _screens(
    screens: int,
    first: int,
    keep: Callable[[gen.Screen], bool] | None = None,
    progress: tuple[int, str] = (50, "screens"),
    make: Callable[[str, int], gen.Screen] = gen.render_screen,
    families: tuple[str, ...] = FAMILIES,
) -> Iterator[gen.Screen]:
    """``screens`` screens of every family of ``families`` (seeds from ``first``, every family
    of a seed in turn, each made by ``make``), those ``keep`` accepts; ``progress``: how often
    to say how far, and of what."""
    every, what = progress
    for k in range(screens):
        for family in families:
            screen = make(family, first + k)
            if keep is None or keep(screen):
                yield screen
        if (k + 1) % every == 0:
            print(f"rendered {k + 1}/{screens} {what} per family", flush=True)


def _crop(screen: gen.Screen) -> tuple[np.ndarray, int, int]:
    """The screen's frame cropped as ``detect_calipers`` crops it, and the crop's origin."""
    frame = screen.frame
    height, width = frame.shape[:2]
    margin = ARM + 3
    bx0, by0, bx1, by1 = screen.fov_box
    x0, y0 = max(0, bx0 - margin), max(0, by0 - margin)
    x1, y1 = min(width - 1, bx1 + margin), min(height - 1, by1 + margin)
    return frame[y0 : y1 + 1, x0 : x1 + 1], x0, y0


def _around(
    rng: np.random.Generator, x: float, y: float, width: int, height: int
) -> tuple[int, int] | None:
    """A window's origin holding (x, y) anywhere but its outer :data:`EDGE` px (None: the
    crop has no such window)."""
    lo_x, hi_x = max(0, int(x) - WINDOW + EDGE), min(width - WINDOW, int(x) - EDGE)
    lo_y, hi_y = max(0, int(y) - WINDOW + EDGE), min(height - WINDOW, int(y) - EDGE)
    if lo_x > hi_x or lo_y > hi_y:
        return None
    return int(rng.integers(lo_x, hi_x + 1)), int(rng.integers(lo_y, hi_y + 1))


def _cut(
    crop: np.ndarray, truth: np.ndarray, origins: list[tuple[int, int]]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    windows, points = [], []
    for ox, oy in origins:
        windows.append(crop[oy : oy + WINDOW, ox : ox + WINDOW].copy())
        inside = [
            (px - ox, py - oy)
            for px, py in truth
            if 0 <= px - ox < WINDOW and 0 <= py - oy < WINDOW
        ]
        p = np.full((MAX_POINTS, 2), -1.0, np.float32)
        if inside:
            p[: min(MAX_POINTS, len(inside))] = np.array(inside[:MAX_POINTS])
        points.append(p)
    return windows, points


def render_windows(
    screens: int,
    seed: int,
    first: int = FIRST_SCREEN_SEED,
    model: Any = None,
    keep: Callable[[gen.Screen], bool] | None = None,
    make: Callable[[str, int], gen.Screen] = gen.render_screen,
    families: tuple[str, ...] = FAMILIES,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows (N, WINDOW, WINDOW, 3) uint8, their caliper points (N, MAX_POINTS, 2)
    float32 (window coordinates; -1: none) and whether their screen's marks are arrows (N,)
    bool, from ``screens`` screens per family (seeds from
    ``first`` on): around every caliper point, :data:`RANDOM_WINDOWS` anywhere and
    :data:`TEXT_WINDOWS` on the screen's texts in the crop. With ``model`` (mining), also
    around the model's false points (at least :data:`MINE_PROB` probable, farther than 4 px
    from every caliper point; at most :data:`MINE_WINDOWS` a screen) and again around the
    caliper points it misses or places more than 2 px off. With ``keep``, only the screens it
    accepts give windows; ``make`` and ``families`` as :func:`_screens` takes them."""
    rng = np.random.default_rng(seed)
    windows: list[np.ndarray] = []
    points: list[np.ndarray] = []
    arrows: list[bool] = []
    for screen in _screens(screens, first, keep, (20, "screens"), make, families):
        crop, x0, y0 = _crop(screen)
        ch, cw = crop.shape[:2]
        if ch < WINDOW or cw < WINDOW:
            continue
        truth = np.array([(x - x0, y - y0) for x, y in screen.calipers], np.float32)
        wanted: list[tuple[float, float]] = [(float(x), float(y)) for x, y in truth]
        texts = [
            ((t.box[0] + t.box[2]) / 2 - x0, (t.box[1] + t.box[3]) / 2 - y0) for t in screen.texts
        ]
        texts = [(x, y) for x, y in texts if 0 <= x < cw and 0 <= y < ch]
        for i in rng.permutation(len(texts))[:TEXT_WINDOWS]:
            wanted.append(texts[int(i)])
        if model is not None:
            found = _find(model, crop)
            false = [
                (p.x, p.y)
                for p in found
                if p.prob >= MINE_PROB
                and not any(np.hypot(p.x - tx, p.y - ty) <= 4 for tx, ty in truth)
            ]
            for i in rng.permutation(len(false))[:MINE_WINDOWS]:
                wanted.append(false[int(i)])
            for tx, ty in truth:
                if not any(np.hypot(p.x - tx, p.y - ty) <= 2 for p in found if p.prob >= 0.5):
                    wanted.append((float(tx), float(ty)))
        origins = [o for x, y in wanted if (o := _around(rng, x, y, cw, ch)) is not None]
        for _ in range(RANDOM_WINDOWS):
            origins.append(
                (int(rng.integers(0, cw - WINDOW + 1)), int(rng.integers(0, ch - WINDOW + 1)))
            )
        w, p = _cut(crop, truth, origins)
        windows += w
        points += p
        arrows += [screen.caliper_style.startswith("arrow")] * len(w)
    return np.stack(windows), np.stack(points), np.array(arrows, bool)


def render_ui(
    screens: int, seed: int, first: int = UI_SEED
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``--ui-screens``: windows (N, WINDOW, WINDOW, 3) uint8 around the screens' UI graphics
    (depth-scale ticks, focus markers, body marks, grey bars; :data:`UI_WINDOWS` a screen),
    their caliper points (N, MAX_POINTS, 2) as :func:`render_windows` gives them, and up to
    :data:`MAX_POINTS` points drawn in the UI boxes in each window (window coordinates; -1:
    none), negatives for the refiner."""
    rng = np.random.default_rng(seed)
    windows: list[np.ndarray] = []
    points: list[np.ndarray] = []
    negatives: list[np.ndarray] = []
    for screen in _screens(screens, first, progress=(50, "UI screens")):
        crop, x0, y0 = _crop(screen)
        ch, cw = crop.shape[:2]
        if ch < WINDOW or cw < WINDOW:
            continue
        boxes = [
            (max(0, bx0 - x0), max(0, by0 - y0), min(cw - 1, bx1 - x0), min(ch - 1, by1 - y0))
            for bx0, by0, bx1, by1 in screen.ui_boxes
        ]
        boxes = [b for b in boxes if b[0] <= b[2] and b[1] <= b[3]]
        if not boxes:
            continue
        truth = np.array([(x - x0, y - y0) for x, y in screen.calipers], np.float32)
        origins = []
        for _ in range(UI_WINDOWS):
            bx0, by0, bx1, by1 = boxes[int(rng.integers(len(boxes)))]
            x, y = int(rng.integers(bx0, bx1 + 1)), int(rng.integers(by0, by1 + 1))
            if (o := _around(rng, x, y, cw, ch)) is not None:
                origins.append(o)
        w, p = _cut(crop, truth, origins)
        for ox, oy in origins:
            inside = [
                (bx0 - ox, by0 - oy, bx1 - ox, by1 - oy)
                for bx0, by0, bx1, by1 in boxes
                if bx1 >= ox and bx0 < ox + WINDOW and by1 >= oy and by0 < oy + WINDOW
            ]
            n = np.full((MAX_POINTS, 2), -1.0, np.float32)
            for j in range(MAX_POINTS):
                a0, b0, a1, b1 = inside[int(rng.integers(len(inside)))]
                n[j] = (
                    rng.integers(max(0, a0), min(WINDOW - 1, a1) + 1),
                    rng.integers(max(0, b0), min(WINDOW - 1, b1) + 1),
                )
            negatives.append(n)
        windows += w
        points += p
    return np.stack(windows), np.stack(points), np.stack(negatives)


def render_samples(
    screens: int,
    seed: int,
    coarse: Any,
    first: int = SAMPLE_SEED,
    keep: Callable[[gen.Screen], bool] | None = None,
    make: Callable[[str, int], gen.Screen] = gen.render_screen,
    families: tuple[str, ...] = FAMILIES,
    mine: tuple[Any, ...] = (),
    maps: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Refiner version 2's training samples from ``screens`` screens per family (seeds from
    ``first`` on), cut from the whole crop as ``detect_calipers`` crops it (its context seen
    as at inference, zeros only beyond the crop): patches (N, :data:`SAMPLE`,
    :data:`SAMPLE`, 3) uint8 centred (row and column SAMPLE // 2) on every caliper point in
    the crop, on
    the heat map's (``coarse`` on the whole crop) false points (at least 0.2 probable, up to
    :data:`SAMPLE_HARD` a screen), on points in the screen's UI graphics (depth-scale ticks,
    focus markers, body marks: :data:`SAMPLE_UI`), on its texts (:data:`TEXT_WINDOWS`) and
    anywhere (:data:`RANDOM_WINDOWS`), the negatives farther than :data:`REFINE_AWAY` px from
    every caliper point; their kind (N,) int8 (:data:`KINDS`), the caliper point's offset
    from the centre (N, 2) float32 (positives; 0 else) and whether the screen's marks are
    arrows (N,) bool. With ``keep``, only the screens it accepts give samples."""
    rng = np.random.default_rng(seed)
    half = SAMPLE // 2
    out: list[np.ndarray] = []
    kinds: list[int] = []
    offsets: list[tuple[float, float]] = []
    arrows: list[bool] = []
    for screen in _screens(screens, first, keep, (50, "sample screens"), make, families):
        crop, x0, y0 = _crop(screen)
        ch, cw = crop.shape[:2]
        truth = [(float(x - x0), float(y - y0)) for x, y in screen.calipers]

        def away(x: float, y: float) -> bool:
            return all(np.hypot(x - tx, y - ty) > REFINE_AWAY for tx, ty in truth)  # noqa: B023

        centres: list[tuple[int, int, int, tuple[float, float]]] = []
        for tx, ty in truth:
            cx, cy = round(tx), round(ty)
            centres.append((cx, cy, KINDS.index("point"), (tx - cx, ty - cy)))
        hard = [(p.x, p.y) for p in _find(coarse, crop) if away(p.x, p.y)]
        for other in mine:
            hard += [
                (p.x, p.y)
                for p in _find(other, crop)
                if away(p.x, p.y) and all(np.hypot(p.x - hx, p.y - hy) > 2 for hx, hy in hard)
            ]
        for i in rng.permutation(len(hard))[:SAMPLE_HARD]:
            centres.append((*hard[int(i)], KINDS.index("heat"), (0.0, 0.0)))
        if maps and crop.ndim == 3:
            chroma = crop.max(2).astype(np.int16) - crop.min(2)
            ys, xs = np.nonzero(chroma >= MAP_CHROMA)
            picked = (
                [(int(xs[int(i)]), int(ys[int(i)])) for i in rng.integers(0, len(xs), 4 * maps)]
                if len(xs)
                else []
            )
            picked = [(x, y) for x, y in picked if away(x, y)][:maps]
            centres += [(x, y, KINDS.index("map"), (0.0, 0.0)) for x, y in picked]
        boxes = [
            (max(0, bx0 - x0), max(0, by0 - y0), min(cw - 1, bx1 - x0), min(ch - 1, by1 - y0))
            for bx0, by0, bx1, by1 in screen.ui_boxes
        ]
        boxes = [b for b in boxes if b[0] <= b[2] and b[1] <= b[3]]
        for _ in range(SAMPLE_UI if boxes else 0):
            bx0, by0, bx1, by1 = boxes[int(rng.integers(len(boxes)))]
            ux, uy = int(rng.integers(bx0, bx1 + 1)), int(rng.integers(by0, by1 + 1))
            if away(ux, uy):
                centres.append((ux, uy, KINDS.index("ui"), (0.0, 0.0)))
        texts = [
            (round((t.box[0] + t.box[2]) / 2 - x0), round((t.box[1] + t.box[3]) / 2 - y0))
            for t in screen.texts
        ]
        texts = [(x, y) for x, y in texts if 0 <= x < cw and 0 <= y < ch and away(x, y)]
        for i in rng.permutation(len(texts))[:TEXT_WINDOWS]:
            centres.append((*texts[int(i)], KINDS.index("other"), (0.0, 0.0)))
        for _ in range(RANDOM_WINDOWS):
            rx, ry = int(rng.integers(0, cw)), int(rng.integers(0, ch))
            if away(rx, ry):
                centres.append((rx, ry, KINDS.index("other"), (0.0, 0.0)))
        rgb = cv2.cvtColor(crop, cv2.COLOR_GRAY2RGB) if crop.ndim == 2 else crop
        padded = cv2.copyMakeBorder(rgb, half, half, half, half, cv2.BORDER_CONSTANT, value=0)
        for cx, cy, kind, offset in centres:
            if not (0 <= cx < cw and 0 <= cy < ch):
                continue  # a point off the crop (as detect_calipers never refines)
            out.append(padded[cy : cy + SAMPLE, cx : cx + SAMPLE].copy())
            kinds.append(kind)
            offsets.append(offset)
            arrows.append(screen.caliper_style.startswith("arrow"))
    return (
        np.stack(out),
        np.array(kinds, np.int8),
        np.array(offsets, np.float32),
        np.array(arrows, bool),
    )


def _detected(screen: gen.Screen) -> tuple[np.ndarray, tuple[int, int, int, int] | None, list]:
    """The full detector on ``screen`` as ``benchmarks.caliper_misses`` runs it (the frame
    prepared as ``analyze_frame`` prepares it, its field of view found): the frame it
    searched (RGB with colour maps, grey else), the field of view's box (None: none found)
    and the points ``detect_calipers`` returns (full-frame ``(x, y)``)."""
    from cadbusi_assets.ultrasound import calipers as cal
    from cadbusi_assets.ultrasound.fov import find_field_of_view
    from cadbusi_assets.ultrasound.overlay import ColourMaps, to_grey

    frame = screen.frame
    grey = to_grey(frame)
    maps = ColourMaps.of(frame) if frame.ndim == 3 else None
    work = frame
    if maps is None or cv2.countNonZero(maps.chroma) == 0:
        work, maps = grey, None
    box = find_field_of_view(grey, []).box
    if box is None:
        return work, None, []
    found = cal.detect_calipers(work, box, grey=grey, maps=maps).points
    return work, box, [(int(x), int(y)) for x, y in found]


def _refused(net: Any, crop: np.ndarray, x: float, y: float) -> bool:
    """Whether the verdict refiner of ``net`` (a ``CaliperNet``) refused the caliper point
    (``x``, ``y``) of ``crop``: a heat-map point at least ``NET_MIN_PROB`` probable within 6
    px (the likeliest) that it gives less than ``NET_REFINE_PROB`` of its version (the
    ``refiner <`` cause of ``benchmarks.caliper_misses``)."""
    from cadbusi_assets.ultrasound import calipers as cal

    near = [p for p in net.find([crop], 0.05)[0] if np.hypot(p.x - x, p.y - y) <= 6]
    if not near:
        return False
    best = max(near, key=lambda p: p.prob)
    if best.prob < cal.NET_MIN_PROB:
        return False
    verdict = net.refine(crop, [(best.x, best.y)])[0]
    return bool(verdict.prob < cal.NET_REFINE_PROB[net.refiner_version])


def mined_centres(
    truth: list[tuple[float, float]],
    found: list[tuple[int, int]],
    refused: Callable[[float, float], bool],
    heat: Sequence[tuple[int, int]] = (),
) -> list[tuple[int, int, int, tuple[float, float]]]:
    """``--mine-detector``: the samples one screen gives (crop coordinates; as
    :func:`render_samples`' centres: x, y, kind, offset). ``truth``: its caliper points,
    ``found``: the detector's points, ``refused(x, y)``: whether the verdict refiner refused a
    caliper point, ``heat``: heat-map points (at least ``NET_MIN_PROB``). Negatives
    (``mined_false``): every found point farther than :data:`REFINE_AWAY` px from every
    caliper point (a false mark; second marks, near a true one, are no negatives) and the
    heat-map point nearest it within ``REACH`` px (where the refiner judged it), if as far
    away. Positives (``mined_point``, centred on the caliper point, its sub-pixel offset the
    target): the caliper points no found point lies within 5 px of that the refiner refused,
    and those whose nearest found point is more than :data:`MINED_OFF` px off."""
    reach = caliper_net.REACH

    def away(x: float, y: float) -> bool:
        return all(np.hypot(x - tx, y - ty) > REFINE_AWAY for tx, ty in truth)

    out: list[tuple[int, int, int, tuple[float, float]]] = []
    negatives: list[tuple[int, int]] = []
    for fx, fy in found:
        if not away(fx, fy):
            continue
        negatives.append((fx, fy))
        near = sorted((np.hypot(hx - fx, hy - fy), hx, hy) for hx, hy in heat)
        if near and 0 < near[0][0] <= reach and away(near[0][1], near[0][2]):
            negatives.append((near[0][1], near[0][2]))
    for x, y in dict.fromkeys(negatives):
        out.append((x, y, KINDS.index("mined_false"), (0.0, 0.0)))
    for tx, ty in truth:
        nearest = min((float(np.hypot(fx - tx, fy - ty)) for fx, fy in found), default=np.inf)
        if nearest > 5.0 and not refused(tx, ty):
            continue
        if nearest <= MINED_OFF:
            continue
        cx, cy = round(tx), round(ty)
        out.append((cx, cy, KINDS.index("mined_point"), (tx - cx, ty - cy)))
    return out


def _near_misses(
    net: Any,
    crop: np.ndarray,
    heat: list[tuple[int, int]],
    truth: list[tuple[float, float]],
    taken: list[tuple[int, int, int, tuple[float, float]]],
) -> list[tuple[int, int, int, tuple[float, float]]]:
    """``--mine-near``: the heat-map points ``heat`` of ``crop`` farther than
    :data:`REFINE_AWAY` px from every caliper point of ``truth`` and from the samples
    ``taken`` that the verdict refiner of ``net`` gives at least :data:`MINED_NEAR` (the
    likeliest :data:`MINED_NEAR_MAX`), as samples of kind ``mined_near``."""
    points = [
        (x, y)
        for x, y in heat
        if all(np.hypot(x - tx, y - ty) > REFINE_AWAY for tx, ty in truth)
        and all(np.hypot(x - cx, y - cy) > 2 for cx, cy, _, _ in taken)
    ]
    if not points:
        return []
    verdicts = net.refine(crop, points, place=[False] * len(points), place_above=2.0)
    ranked = sorted(
        (
            (v.prob, x, y)
            for (x, y), v in zip(points, verdicts, strict=True)
            if v.prob >= MINED_NEAR
        ),
        reverse=True,
    )
    return [(x, y, KINDS.index("mined_near"), (0.0, 0.0)) for _, x, y in ranked[:MINED_NEAR_MAX]]


def render_detector_samples(
    screens: int,
    seed: int,
    first: int = DETECTOR_SEED,
    weights: Path | None = None,
    detect: Callable[[gen.Screen], tuple[np.ndarray, Any, list]] = _detected,
    near: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``--mine-detector``: a mining round on the full detector's own errors. ``screens``
    screens per *tuning* family (never the held-out ones; seeds from ``first`` on), each
    searched by ``detect`` (the full detector, ``detect_calipers`` with the rules, and the
    learned finder of ``weights``, the committed weights when None), give the samples of
    :func:`mined_centres`, cut (as :func:`render_samples` cuts them: :data:`SAMPLE` px,
    zeros beyond the crop) from the crop the detector searched (its field of view's box
    grown by ``ARM + 3`` px). ``seed`` is unused but kept for the other renderers' call
    shape. Screens without a field of view give none. With ``near`` (``--mine-near``), the
    near misses too (:data:`MINED_NEAR`: heat-map points away from every caliper point that
    the verdict refiner leans to without taking them, or takes; kind ``mined_near``)."""
    import torch

    from cadbusi_assets.ultrasound import calipers as cal

    del seed  # the screens' seeds decide everything
    restore = caliper_net.caliper_net
    net = caliper_net.caliper_net()
    if weights is not None:
        net = caliper_net.CaliperNet(torch.load(weights, map_location="cpu", weights_only=True))
        caliper_net.caliper_net = lambda: net  # type: ignore[assignment]
    half = SAMPLE // 2
    out: list[np.ndarray] = []
    kinds: list[int] = []
    offsets: list[tuple[float, float]] = []
    arrows: list[bool] = []
    counts = [0, 0, 0]
    try:
        for screen in _screens(
            screens, first, None, (50, "detector screens"), families=gen.TUNING_FAMILIES
        ):
            work, box, found = detect(screen)
            if box is None:
                continue
            height, width = work.shape[:2]
            margin = ARM + 3
            x0, y0 = max(0, box[0] - margin), max(0, box[1] - margin)
            x1, y1 = min(width - 1, box[2] + margin), min(height - 1, box[3] + margin)
            crop = work[y0 : y1 + 1, x0 : x1 + 1]
            ch, cw = crop.shape[:2]
            truth = [(float(x - x0), float(y - y0)) for x, y in screen.calipers]
            inside = [(x - x0, y - y0) for x, y in found]
            heat = [(p.x, p.y) for p in net.find([crop], cal.NET_MIN_PROB)[0]]
            centres = mined_centres(
                truth,
                inside,
                functools.partial(_refused, net, crop),
                heat,
            )
            if near:
                centres += _near_misses(net, crop, heat, truth, centres)
            rgb = cv2.cvtColor(crop, cv2.COLOR_GRAY2RGB) if crop.ndim == 2 else crop
            padded = cv2.copyMakeBorder(rgb, half, half, half, half, cv2.BORDER_CONSTANT, value=0)
            for cx, cy, kind, offset in centres:
                if not (0 <= cx < cw and 0 <= cy < ch):
                    continue
                out.append(padded[cy : cy + SAMPLE, cx : cx + SAMPLE].copy())
                kinds.append(kind)
                offsets.append(offset)
                arrows.append(screen.caliper_style.startswith("arrow"))
                counts[kind - KINDS.index("mined_point")] += 1
    finally:
        caliper_net.caliper_net = restore
    print(
        f"mined: {counts[0]} caliper points, {counts[1]} false points, {counts[2]} near misses",
        flush=True,
    )
    n = len(out)
    return (
        np.stack(out) if out else np.zeros((0, SAMPLE, SAMPLE, 3), np.uint8),
        np.array(kinds, np.int8),
        np.array(offsets, np.float32).reshape(n, 2),
        np.array(arrows, bool),
    )


def render_ui_samples(
    screens: int, seed: int, first: int = UI_SEED
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``--sample-ui``: refiner negatives (as :func:`render_samples` gives them, kind
    ``ui``) at random points of up to :data:`SAMPLE_UI` of each screen's UI graphics (depth
    scales, focus markers, TGC curves, body marks, grey bars) anywhere on the *whole* frame
    (patches cut from the frame, not the crop: such graphics lie on the crop's margin or
    just beyond it), farther than :data:`REFINE_AWAY` px from every caliper point."""
    rng = np.random.default_rng(seed)
    half = SAMPLE // 2
    out: list[np.ndarray] = []
    for screen in _screens(screens, first, progress=(100, "UI sample screens")):
        frame = screen.frame
        rgb = cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB) if frame.ndim == 2 else frame
        padded = cv2.copyMakeBorder(rgb, half, half, half, half, cv2.BORDER_CONSTANT, value=0)
        boxes = list(screen.ui_boxes)
        for i in rng.permutation(len(boxes))[:SAMPLE_UI]:
            bx0, by0, bx1, by1 = boxes[int(i)]
            x, y = int(rng.integers(bx0, bx1 + 1)), int(rng.integers(by0, by1 + 1))
            inside = 0 <= x < rgb.shape[1] and 0 <= y < rgb.shape[0]
            if inside and all(np.hypot(x - tx, y - ty) > REFINE_AWAY for tx, ty in screen.calipers):
                out.append(padded[y : y + SAMPLE, x : x + SAMPLE].copy())
    n = len(out)
    return (
        np.stack(out),
        np.full(n, KINDS.index("ui"), np.int8),
        np.zeros((n, 2), np.float32),
        np.zeros(n, bool),
    )


def edge_points(screen: gen.Screen, rng: np.random.Generator) -> list[tuple[int, int]]:
    """``--sample-edges``' points on ``screen`` (frame coordinates): :data:`SAMPLE_EDGE`
    within 1 px of the outline of each of its UI boxes on the image (their centre in the
    field of view: a colour or power Doppler box's edge, where flow pixels end; elastography
    and zoom boxes) and as many within 2 px of its field of view's border (where scanners
    put focus and depth markers; each axis up to 2 px from a pixel at the border)."""
    fov = screen.fov_mask
    boxes = [  # the boxes on the image, not beside it
        b for b in screen.ui_boxes if fov[(b[1] + b[3]) // 2, (b[0] + b[2]) // 2]
    ]
    points: list[tuple[int, int]] = []
    for bx0, by0, bx1, by1 in boxes:
        for _ in range(SAMPLE_EDGE):
            side = int(rng.integers(4))
            along = int(rng.integers(bx0, bx1 + 1)) if side < 2 else int(rng.integers(by0, by1 + 1))
            edge = (by0, by1, bx0, bx1)[side] + int(rng.integers(-1, 2))
            points.append((along, edge) if side < 2 else (edge, along))
    border = cv2.morphologyEx(fov.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    ys, xs = np.nonzero(border)
    for i in rng.integers(0, len(xs), SAMPLE_EDGE if len(xs) else 0):
        dx, dy = (int(v) for v in rng.integers(-2, 3, 2))
        points.append((int(xs[int(i)]) + dx, int(ys[int(i)]) + dy))
    return points


def draw_glyph(patch: np.ndarray, rng: np.random.Generator) -> None:
    """``--edge-glyphs``: a UI glyph drawn in place over ``patch``'s centre (give or take 2
    px), in a UI colour: a filled triangle (a focus marker, pointing along an axis; 4-7 px
    from base to tip) or a small filled bar (a depth tick, 2-6 by 2-3 px). Neither is a
    caliper mark (arrows are open heads with a shaft, crosses are lines)."""
    colour = UI_COLOURS[int(rng.integers(len(UI_COLOURS)))]
    c = SAMPLE // 2
    x, y = (c + int(v) for v in rng.integers(-2, 3, 2))
    if rng.random() < 0.6:
        length, half = int(rng.integers(4, 8)), int(rng.integers(3, 6))
        ux, uy = ((1, 0), (-1, 0), (0, 1), (0, -1))[int(rng.integers(4))]
        tip = (x + ux * length // 2, y + uy * length // 2)
        bx, by = x - ux * length // 2, y - uy * length // 2
        base = [(bx - uy * half, by - ux * half), (bx + uy * half, by + ux * half)]
        cv2.fillPoly(patch, [np.array([tip, *base], np.int32)], colour)
    else:
        w, h = int(rng.integers(2, 7)), int(rng.integers(2, 4))
        if rng.random() < 0.5:
            w, h = h, w
        cv2.rectangle(
            patch, (x - w // 2, y - h // 2), (x - w // 2 + w - 1, y - h // 2 + h - 1), colour, -1
        )


def render_edge_samples(
    screens: int, seed: int, first: int = EDGE_SEED, glyphs: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``--sample-edges``: refiner negatives (as :func:`render_samples` gives them, kind
    ``edge``) at :func:`edge_points` of ``screens`` screens per family (seeds from ``first``
    on), cut from the crop as ``detect_calipers`` crops it: those in the crop and farther
    than :data:`REFINE_AWAY` px from every caliper point. With ``glyphs``
    (``--edge-glyphs``), half the patches get a UI glyph over their centre
    (:func:`draw_glyph`: focus markers and depth ticks on the field of view's border)."""
    rng = np.random.default_rng(seed)
    half = SAMPLE // 2
    out: list[np.ndarray] = []
    for screen in _screens(screens, first, progress=(100, "edge sample screens")):
        crop, x0, y0 = _crop(screen)
        ch, cw = crop.shape[:2]
        truth = [(x - x0, y - y0) for x, y in screen.calipers]
        centres = edge_points(screen, rng)
        rgb = cv2.cvtColor(crop, cv2.COLOR_GRAY2RGB) if crop.ndim == 2 else crop
        padded = cv2.copyMakeBorder(rgb, half, half, half, half, cv2.BORDER_CONSTANT, value=0)
        for x, y in centres:
            cx, cy = x - x0, y - y0
            if not (0 <= cx < cw and 0 <= cy < ch):
                continue  # off the crop (as detect_calipers never refines)
            if all(np.hypot(cx - tx, cy - ty) > REFINE_AWAY for tx, ty in truth):
                out.append(padded[cy : cy + SAMPLE, cx : cx + SAMPLE].copy())
                if glyphs and rng.random() < 0.5:
                    draw_glyph(out[-1], rng)
    n = len(out)
    return (
        np.stack(out) if out else np.zeros((0, SAMPLE, SAMPLE, 3), np.uint8),
        np.full(n, KINDS.index("edge"), np.int8),
        np.zeros((n, 2), np.float32),
        np.zeros(n, bool),
    )


def _refiner_loss(out: Any, y: Any, target: Any) -> tuple[Any, Any, Any]:
    """A refiner batch's classification loss, summed offset loss (caliper points only) and
    their total (the offset loss per caliper point)."""
    import torch.nn.functional as F

    cls = F.binary_cross_entropy_with_logits(out[:, 0], y)
    reg = (F.smooth_l1_loss(out[:, 1:], target, reduction="none", beta=0.05).sum(1) * y).sum()
    return cls, reg, cls + reg / y.sum().clamp(min=1.0)


def _refiner_step(
    loss: Any,
    cls: Any,
    reg: Any,
    y: Any,
    optimiser: Any,
    schedule: Any,
    progress: tuple[int, int, float],
    what: str,
) -> None:
    """One optimisation step of a refiner (stopped on a loss that is not a number), its
    progress printed every 500 steps (``progress``: step, steps, start time)."""
    step, steps, start = progress
    _finite(loss, "refiner", step)
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    schedule.step()
    if (step + 1) % 500 == 0:
        print(
            f"{what} step {step + 1}/{steps} cls {float(cls.detach()):.4f} "
            f"reg {float(reg.detach()) / max(1.0, float(y.sum())):.4f} "
            f"{time.time() - start:.0f}s",
            flush=True,
        )


def _finite(loss: Any, what: str, step: int) -> None:
    """Stop a run whose loss is no longer a number (weights that would be saved as NaN)."""
    import torch

    if not bool(torch.isfinite(loss)):
        raise RuntimeError(
            f"{what} training diverged at step {step + 1} (loss {float(loss)}): "
            "lower the learning rate, --anchor or --distill"
        )


def _native_kernels(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a training function with PyTorch's own CPU convolution kernels instead of oneDNN's,
    whose weight gradients came back NaN now and then on this project's AMD EPYC CI machine
    (4 runs in 36 of 20 steps after the generator had run; none in 60 with oneDNN off, which
    is also about 30 % faster here). GPU kernels are not affected."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        import torch

        with warnings.catch_warnings():
            # setting the flags warns that TF32 needs an Intel GPU (TF32 is left as it was)
            warnings.filterwarnings("ignore", message="TF32 acceleration on top of oneDNN")
            with torch.backends.mkldnn.flags(enabled=False):
                return fn(*args, **kwargs)

    return run


@_native_kernels
def train_refiner_v2(
    samples: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    steps: int,
    batch: int,
    seed: int,
    start_from: Any = None,
    distill: float = 0.0,
    anchor: float = 0.0,
) -> Any:
    """Train a new version 2 ``RefineNet`` on :func:`render_samples`'s samples: half a batch
    caliper points (shifted up to :data:`REFINE_SHIFT` px: the offset back is the target;
    arrow tips drawn as :data:`ARROW_SHARE` of them), a quarter the heat map's false points,
    the rest UI points (:data:`UI_SHARE` of the negatives), points on UI boxes' outlines and
    the field of view's border (:data:`EDGE_SHARE`, when the samples hold any:
    :func:`render_edge_samples`) and texts or anywhere (negatives shifted up to 1 px). With
    samples of kind ``map`` (``--sample-hues``), :data:`MAP_SHARE` of the false points'
    quarter is drawn from them. With mined samples (``--mine-detector``:
    :func:`render_detector_samples`), :data:`MINED_SHARE` of the batch is drawn from them,
    half (when both kinds are there) the detector's refused caliper points, taken from the
    caliper points' half, and half its false points, taken from the false points' quarter.

    ``start_from`` (``--refine-from``: a version 2 refiner, the teacher, kept as it was) is
    fine-tuned at half the learning rate instead of a new one trained; ``distill`` and
    ``anchor`` as :func:`train_refiner` takes them (its verdicts kept on the batch and its
    weights near)."""
    import copy

    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    images, kinds, offsets, arrows = samples
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    pools = {kind: np.flatnonzero(kinds == KINDS.index(kind)) for kind in KINDS}
    mined_pos = pools["mined_point"]
    mined_neg = np.concatenate([pools["mined_false"], pools["mined_near"]])
    n_mined = round(batch * MINED_SHARE) if len(mined_pos) + len(mined_neg) else 0
    n_mined_pos = (n_mined // 2 if len(mined_neg) else n_mined) if len(mined_pos) else 0
    tips = np.flatnonzero((kinds == KINDS.index("point")) & arrows)
    others = np.flatnonzero((kinds == KINDS.index("point")) & ~arrows)
    print(
        "refiner v2: " + ", ".join(f"{len(v)} {k}" for k, v in pools.items()) + " samples",
        flush=True,
    )
    model = (caliper_net.build_refiner(2) if start_from is None else start_from).to(device)
    teacher = copy.deepcopy(model).eval() if start_from is not None else None
    teacher_weights = (
        [p.detach().clone() for p in teacher.parameters()] if teacher is not None else []
    )
    model.train()
    max_lr = 2e-3 if start_from is None else 1e-3
    optimiser = torch.optim.Adam(model.parameters(), lr=max_lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=max_lr, total_steps=steps)
    reach, centre = caliper_net.REACH, SAMPLE // 2
    start = time.time()

    def draw(pool: np.ndarray, n: int) -> list[int]:
        return [int(pool[int(j)]) for j in rng.integers(0, len(pool), n)] if len(pool) else []

    for step in range(steps):
        n_pos, n_hard = batch // 2, batch // 4
        n_tips = round(n_pos * ARROW_SHARE) if len(tips) else 0
        n_ui = round((batch - n_pos - n_hard) * UI_SHARE) if len(pools["ui"]) else 0
        n_map = round(n_hard * MAP_SHARE) if len(pools["map"]) else 0
        drawn = (
            draw(tips, n_tips)
            + draw(others, n_pos - n_tips - n_mined_pos)
            + draw(pools["heat"], n_hard - n_map - (n_mined - n_mined_pos))
            + draw(pools["map"], n_map)
            + draw(pools["ui"], n_ui)
        )
        if n_mined:  # (without mined samples, the draws of before)
            drawn += draw(mined_pos, n_mined_pos) + draw(mined_neg, n_mined - n_mined_pos)
        if len(pools["edge"]):  # (without edge samples, the draws of before)
            drawn += draw(pools["edge"], round((batch - n_pos - n_hard) * EDGE_SHARE))
        drawn += draw(pools["other"], batch - len(drawn))
        x, labels, targets_ = [], [], []
        for i in drawn:
            positive = kinds[i] in (KINDS.index("point"), KINDS.index("mined_point"))
            shift = REFINE_SHIFT if positive else 1
            dx, dy = (int(v) for v in rng.integers(-shift, shift + 1, 2))
            x.append(caliper_net.patches(images[i], [(centre + dx, centre + dy)], 2)[0])
            labels.append(1.0 if positive else 0.0)
            ox, oy = offsets[i]
            targets_.append(((ox - dx) / reach, (oy - dy) / reach) if positive else (0.0, 0.0))
        xb = torch.from_numpy(np.stack(x)).to(device)
        y = torch.tensor(labels, device=device)
        target = torch.tensor(targets_, dtype=torch.float32, device=device)
        out = model(xb)
        cls, reg, loss = _refiner_loss(out, y, target)
        loss = loss + _keep_teacher(out, xb, y, teacher, teacher_weights, model, distill, anchor)
        _refiner_step(loss, cls, reg, y, optimiser, schedule, (step, steps, start), "refiner v2")
    return model.eval()


def grey_points_only(
    samples: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``--hued-grey-points``: ``samples`` without the caliper points that have a pixel of
    chroma (largest minus smallest channel) :data:`GREY_CHROMA` or more within 3 px of the
    centre (marks in a hue); the negatives all kept."""
    patches, kinds, offsets, arrows = samples
    c = SAMPLE // 2
    near = patches[:, c - 3 : c + 4, c - 3 : c + 4].astype(np.int16)
    chroma = (near.max(3) - near.min(3)).max((1, 2))
    keep = (kinds != KINDS.index("point")) | (chroma < GREY_CHROMA)
    return patches[keep], kinds[keep], offsets[keep], arrows[keep]


def _keep_teacher(
    out: Any,
    x: Any,
    y: Any,
    teacher: Any,
    teacher_weights: list[Any],
    model: Any,
    distill: float,
    anchor: float,
) -> Any:
    """The losses that keep a fine-tuned refiner near its ``teacher`` (0 without one):
    ``distill`` weighs the squared amount by which its logit exceeds the teacher's on the
    negatives (the teacher's taken at least :data:`DISTILL_FLOOR`) and falls below it on the
    caliper points (taken at most ``-DISTILL_FLOOR``), ``anchor`` the squared distance of
    the weights from the teacher's (L2-SP)."""
    import torch

    loss = out.new_zeros(())
    if teacher is not None and distill:
        with torch.no_grad():
            said = teacher(x)[:, 0]
        over = (out[:, 0] - said.clamp(min=DISTILL_FLOOR)).clamp(min=0.0) * (1.0 - y)
        under = (said.clamp(max=-DISTILL_FLOOR) - out[:, 0]).clamp(min=0.0) * y
        loss = loss + distill * (
            (over**2).sum() / (1.0 - y).sum().clamp(min=1.0)
            + (under**2).sum() / y.sum().clamp(min=1.0)
        )
    if teacher is not None and anchor:
        loss = loss + anchor * sum(
            ((p - q) ** 2).sum() for p, q in zip(model.parameters(), teacher_weights, strict=True)
        )
    return loss


def _find(model: Any, crop: np.ndarray) -> list[caliper_net.NetPoint]:
    import torch

    with torch.inference_mode():
        x = torch.from_numpy(caliper_net.input_array(crop)[None])
        out = model(x.to(next(model.parameters()).device)).float().cpu().numpy()[0]
    return caliper_net.cell_points(out, 0.2)


def targets(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per window and cell: heat target, its weight, offset targets (2) and their weight."""
    n = len(points)
    cells = WINDOW // caliper_net.STRIDE
    heat = np.zeros((n, cells, cells), np.float32)
    heat_w = np.ones((n, cells, cells), np.float32)
    offset = np.zeros((n, 2, cells, cells), np.float32)
    offset_w = np.zeros((n, cells, cells), np.float32)
    s = caliper_net.STRIDE
    for i in range(n):
        for px, py in points[i]:
            if px < 0:
                continue
            cx, cy = int(px // s), int(py // s)
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    gx, gy = cx + dx, cy + dy
                    if not (0 <= gx < cells and 0 <= gy < cells):
                        continue
                    if dx == 0 and dy == 0:
                        heat[i, gy, gx] = 1.0
                        heat_w[i, gy, gx] = POS_WEIGHT
                    elif heat[i, gy, gx] == 0.0:
                        heat_w[i, gy, gx] = 0.0
                    offset[i, 0, gy, gx] = (px + 0.5) / s - (gx + 0.5)
                    offset[i, 1, gy, gx] = (py + 0.5) / s - (gy + 0.5)
                    offset_w[i, gy, gx] = 1.0
    return heat, heat_w, offset, offset_w


@_native_kernels
def train(
    windows: np.ndarray,
    points: np.ndarray,
    steps: int,
    batch: int,
    seed: int,
    model: Any = None,
    max_lr: float = 3e-3,
) -> Any:
    """Train ``model`` (a new one when None) and return it (eval mode)."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = (caliper_net.build_model() if model is None else model).to(device)
    model.train()
    heat, heat_w, offset, offset_w = (torch.from_numpy(a) for a in targets(points))
    images = torch.from_numpy(np.ascontiguousarray(np.moveaxis(windows, 3, 1)))
    optimiser = torch.optim.Adam(model.parameters(), lr=max_lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=max_lr, total_steps=steps)
    generator = torch.Generator().manual_seed(seed)
    start = time.time()
    running = 0.0
    for step in range(steps):
        idx = torch.randint(0, len(images), (batch,), generator=generator)
        x = images[idx].to(device).float() / 255.0
        out = model(x)
        hw = heat_w[idx].to(device)
        cls = F.binary_cross_entropy_with_logits(out[:, 0], heat[idx].to(device), weight=hw)
        ow = offset_w[idx].to(device)
        reg = (
            F.smooth_l1_loss(out[:, 1:], offset[idx].to(device), reduction="none", beta=0.1).sum(1)
            * ow
        ).sum() / ow.sum().clamp(min=1.0)
        loss = cls * 10.0 + reg
        _finite(loss, "heat map", step)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        value = float(loss.detach())
        running = 0.98 * running + 0.02 * value if step else value
        if (step + 1) % 200 == 0:
            print(
                f"step {step + 1}/{steps} loss {running:.4f} cls {float(cls.detach()):.4f} "
                f"reg {float(reg.detach()):.4f} {time.time() - start:.0f}s",
                flush=True,
            )
    return model.eval()


@_native_kernels
def train_refiner(
    windows: np.ndarray,
    points: np.ndarray,
    arrows: np.ndarray,
    coarse: Any,
    steps: int,
    batch: int,
    seed: int,
    start_from: Any = None,
    distill: float = 0.0,
    anchor: float = 0.0,
    ui: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> Any:
    """Train a ``RefineNet`` on patches of the windows: around caliper points (shifted up to
    :data:`REFINE_SHIFT` px: the offset back is the target), at the heat map's false points
    (``coarse`` on every window; at least 0.2 probable, farther than :data:`REFINE_AWAY` px
    from every caliper point) and anywhere else (as far away): a quarter of a batch each of
    the negatives.

    Fine-tuning ``start_from`` (the teacher, kept as it was), ``distill`` weighs a loss that
    keeps its verdicts: on the negatives, the squared amount by which the refiner's logit
    exceeds the teacher's (the teacher's taken at least :data:`DISTILL_FLOOR`: no pull on what
    both are sure is none), on the caliper points the amount by which it falls below the
    teacher's (taken at most ``-DISTILL_FLOOR``); ``anchor`` weighs the
    squared distance of the weights from the teacher's (L2-SP: its verdicts kept off the
    training windows too, as on real screens). ``ui`` (:func:`render_ui`'s windows): a share
    :data:`UI_SHARE` of the negatives at points in UI graphics farther than
    :data:`REFINE_AWAY` px from every caliper point, instead of anywhere."""
    import copy

    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    device = next(coarse.parameters()).device
    truth = [[(float(x), float(y)) for x, y in p if x >= 0] for p in points]
    positives = [(i, x, y) for i, t in enumerate(truth) for x, y in t]
    # arrow tips (a few of the points) drawn as often as ARROW_SHARE of the positives
    tips = [k for k, (i, _, _) in enumerate(positives) if arrows[i]]
    others = [k for k, (i, _, _) in enumerate(positives) if not arrows[i]]

    def away(i: int, x: float, y: float) -> bool:
        return all(np.hypot(x - tx, y - ty) > REFINE_AWAY for tx, ty in truth[i])

    hard: list[tuple[int, int, int]] = []
    with torch.inference_mode():
        for k in range(0, len(windows), 256):
            x = torch.from_numpy(np.moveaxis(windows[k : k + 256], 3, 1).astype(np.float32) / 255)
            out = coarse(x.to(device)).float().cpu().numpy()
            for j, o in enumerate(out):
                hard += [
                    (k + j, p.x, p.y)
                    for p in caliper_net.cell_points(o, 0.2)
                    if away(k + j, p.x, p.y)
                ]
    ui_negatives: list[tuple[int, int, int]] = []
    if ui is not None:
        for i, (p, negs) in enumerate(zip(ui[1], ui[2], strict=True)):
            marks = [(float(x), float(y)) for x, y in p if x >= 0]
            ui_negatives += [
                (i, int(x), int(y))
                for x, y in negs
                if x >= 0 and all(np.hypot(x - tx, y - ty) > REFINE_AWAY for tx, ty in marks)
            ]
    print(
        f"refiner: {len(positives)} points, {len(hard)} false heat-map points, "
        f"{len(ui_negatives)} UI points",
        flush=True,
    )
    model = (caliper_net.build_refiner() if start_from is None else start_from).to(device)
    teacher = copy.deepcopy(model).eval() if start_from is not None else None
    teacher_weights = (
        [p.detach().clone() for p in teacher.parameters()] if teacher is not None else []
    )
    model.train()
    max_lr = 2e-3 if start_from is None else 1e-3
    optimiser = torch.optim.Adam(model.parameters(), lr=max_lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=max_lr, total_steps=steps)
    reach = caliper_net.REACH
    start = time.time()
    for step in range(steps):
        images, labels, offsets = [], [], []
        n_pos, n_hard = batch // 2, batch // 4
        n_tips = round(n_pos * ARROW_SHARE) if tips else 0
        drawn = [tips[int(k)] for k in rng.integers(0, max(1, len(tips)), n_tips)] + [
            others[int(k)] for k in rng.integers(0, len(others), n_pos - n_tips)
        ]
        for i, px, py in (positives[k] for k in drawn):
            dx, dy = (int(v) for v in rng.integers(-REFINE_SHIFT, REFINE_SHIFT + 1, 2))
            cx, cy = round(px) + dx, round(py) + dy
            images.append(caliper_net.patches(windows[i], [(cx, cy)])[0])
            labels.append(1.0)
            offsets.append(((px - cx) / reach, (py - cy) / reach))
        for i, hx, hy in (hard[int(k)] for k in rng.integers(0, len(hard), n_hard)):
            dx, dy = (int(v) for v in rng.integers(-1, 2, 2))
            images.append(caliper_net.patches(windows[i], [(hx + dx, hy + dy)])[0])
            labels.append(0.0)
            offsets.append((0.0, 0.0))
        n_ui = round((batch - len(images)) * UI_SHARE) if ui_negatives else 0
        for _ in range(n_ui):
            i, ux, uy = ui_negatives[int(rng.integers(0, len(ui_negatives)))]
            images.append(caliper_net.patches(ui[0][i], [(ux, uy)])[0])  # type: ignore[index]
            labels.append(0.0)
            offsets.append((0.0, 0.0))
        while len(images) < batch:
            i = int(rng.integers(0, len(windows)))
            rx, ry = (int(v) for v in rng.integers(0, WINDOW, 2))
            if away(i, rx, ry):
                images.append(caliper_net.patches(windows[i], [(rx, ry)])[0])
                labels.append(0.0)
                offsets.append((0.0, 0.0))
        x = torch.from_numpy(np.stack(images)).to(device)
        y = torch.tensor(labels, device=device)
        target = torch.tensor(offsets, dtype=torch.float32, device=device)
        out = model(x)
        cls, reg, loss = _refiner_loss(out, y, target)
        loss = loss + _keep_teacher(out, x, y, teacher, teacher_weights, model, distill, anchor)
        _refiner_step(loss, cls, reg, y, optimiser, schedule, (step, steps, start), "refiner")
    return model.eval()


def _data(path: Path | None, make: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if path is not None and path.exists():
        data = np.load(path)
        return data["windows"], data["points"], data["arrows"]
    windows, points, arrows = make()
    if path is not None:
        np.savez(path, windows=windows, points=points, arrows=arrows)
    return windows, points, arrows


def _load_part(model: Any, path: Path, prefix: str, keep: Callable[[str], bool]) -> None:
    """Load into ``model`` the saved entries whose key ``keep`` accepts, ``prefix`` removed."""
    import torch

    saved = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict({k.removeprefix(prefix): v.float() for k, v in saved.items() if keep(k)})


def _samples(
    path: Path | None, make: Callable[[], tuple[np.ndarray, ...]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`render_samples`'s arrays, kept in ``path`` (reused when present)."""
    if path is not None and path.exists():
        data = np.load(path)
        return data["patches"], data["kinds"], data["offsets"], data["arrows"]
    made = make()
    if path is not None:
        np.savez(path, patches=made[0], kinds=made[1], offsets=made[2], arrows=made[3])
    return made  # type: ignore[return-value]


def _save(model: Any, refiner: Any, version: int, out: Path) -> None:
    """The heat map and refiner as float16 (``coarse.*``, ``refine.*``); a version 2 refiner
    named in :data:`~cadbusi_assets.ultrasound.caliper_net.VERSION_KEY` (version 1 files
    have no such entry, as before)."""
    import torch

    state = {
        **{f"coarse.{k}": v.detach().cpu().half() for k, v in model.state_dict().items()},
        **{f"refine.{k}": v.detach().cpu().half() for k, v in refiner.state_dict().items()},
    }
    if version != 1:
        state[caliper_net.VERSION_KEY] = torch.tensor(version)
    torch.save(state, out)


def keep_heat_map(model: Any, path: Path, out: Path) -> None:
    """``--keep-refiners``: write to ``out`` the weights file ``path`` with its heat map
    (``coarse.*``) replaced by ``model``'s (float16); every other entry (the refiners, the
    version) kept as it is."""
    import torch

    saved = torch.load(path, map_location="cpu", weights_only=True)
    heat = {f"coarse.{k}": v.detach().cpu().half() for k, v in model.state_dict().items()}
    if set(heat) != {k for k in saved if k.startswith("coarse.")}:
        raise ValueError(f"{path}'s heat map has other entries than the model's")
    torch.save({k: heat.get(k, v) for k, v in saved.items()}, out)


def combine_version_3(
    judge: dict[str, Any], place: dict[str, Any], heat: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A version 3 weights file (state dict) from a version 2 file ``judge`` (its heat map and
    its refiner, whose verdict counts) and a version 1 file ``place`` (its refiner, whose offsets
    place the points: the ``refine_place.*`` entries), or a version 3 file (its placing
    refiner); with ``heat`` (``--combine-heat``), that file's heat map instead of
    ``judge``'s. No training."""
    import torch

    place_version = caliper_net.refiner_version(place)
    if caliper_net.refiner_version(judge) != 2 or place_version not in (1, 3):
        raise ValueError(
            "version 3 combines a version 2 refiner's verdict and a version 1's offsets"
        )
    state = {k: v for k, v in judge.items() if k.startswith(("coarse.", "refine."))}
    if heat is not None:
        state = {k: v for k, v in state.items() if not k.startswith("coarse.")}
        state.update({k: v for k, v in heat.items() if k.startswith("coarse.")})
    prefix = caliper_net.PLACE_PREFIX
    source = "refine." if place_version == 1 else prefix
    state.update({prefix + k[len(source) :]: v for k, v in place.items() if k.startswith(source)})
    state[caliper_net.VERSION_KEY] = torch.tensor(3)
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--screens", type=int, default=360, help="screens per family")
    parser.add_argument("--steps", type=int, default=6000, help="steps of each phase")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--cache", type=Path, default=None, help="folder for rendered windows")
    parser.add_argument("--refine-steps", type=int, default=3000)
    parser.add_argument(
        "--coarse", type=Path, default=None, help="a heat map's weights (skip phases 1 and 2)"
    )
    parser.add_argument(
        "--refine-from",
        type=Path,
        default=None,
        help="weights whose refiner is fine-tuned (instead of a new one)",
    )
    parser.add_argument(
        "--focus",
        action="store_true",
        help="fine-tune the --coarse heat map on the first windows and windows of weak styles",
    )
    parser.add_argument(
        "--distill",
        type=float,
        default=0.0,
        help="with --refine-from: weight of the loss keeping its refiner's verdicts on negatives",
    )
    parser.add_argument(
        "--anchor",
        type=float,
        default=0.0,
        help="with --refine-from: weight of the squared distance from its refiner's weights",
    )
    parser.add_argument(
        "--ui-screens",
        type=int,
        default=0,
        help="screens per family giving refiner negatives in UI graphics (render_ui)",
    )
    parser.add_argument(
        "--refiner-version",
        type=int,
        default=1,
        choices=(1, 2),
        help="2: a new refiner that sees the patch's context too, trained on render_samples "
        "(with --coarse only; the heat map kept as it is)",
    )
    parser.add_argument(
        "--sample-screens",
        type=int,
        default=600,
        help="--refiner-version 2: screens per family giving refiner samples",
    )
    parser.add_argument(
        "--sample-focus",
        type=int,
        default=0,
        help="--refiner-version 2: screens per family (from FOCUS_SEED) of the weak styles "
        "giving more samples",
    )
    parser.add_argument(
        "--sample-ui",
        type=int,
        default=0,
        help="--refiner-version 2: screens per family (from UI_SEED) giving negatives in UI "
        "graphics anywhere on the frame (render_ui_samples)",
    )
    parser.add_argument(
        "--sample-edges",
        type=int,
        default=0,
        help="--refiner-version 2: screens per family (from EDGE_SEED) giving negatives on the "
        "outlines of UI boxes and the field of view's border (render_edge_samples)",
    )
    parser.add_argument(
        "--edge-glyphs",
        action="store_true",
        help="--sample-edges: draw UI glyphs (focus markers, depth ticks) over half of them",
    )
    parser.add_argument(
        "--hues",
        type=int,
        default=0,
        help="with --coarse: screens per tuning family with calipers in random hues, white on "
        "bright speckle, elastography and JPEG (hued_screen); the heat map fine-tuned on their "
        "windows (mined) with the first ones",
    )
    parser.add_argument(
        "--focus-lr",
        type=float,
        default=FOCUS_LR,
        help="the peak learning rate of the --focus / --hues fine-tune",
    )
    parser.add_argument(
        "--keep-refiners",
        action="store_true",
        help="with --coarse: train the heat map only and write --coarse's file with the new "
        "heat map, its refiners and version kept",
    )
    parser.add_argument(
        "--sample-hues",
        type=int,
        default=0,
        help="--refiner-version 2: screens per tuning family (hued_screen, from HUE_SAMPLE_SEED) "
        "giving more samples, with negatives on their colour maps",
    )
    parser.add_argument(
        "--hued-grey-points",
        action="store_true",
        help="--sample-hues: keep only their grey (white) caliper points (grey_points_only)",
    )
    parser.add_argument(
        "--mine-with",
        type=Path,
        default=None,
        help="--sample-hues: a second heat map (weights file) whose false points join the hard "
        "negatives",
    )
    parser.add_argument(
        "--mine-detector",
        type=int,
        default=0,
        help="--refiner-version 2: screens per tuning family (from DETECTOR_SEED) searched by "
        "the full detector (--refine-from's weights, else the committed ones); its false points "
        "and refused caliper points join the samples (render_detector_samples), MINED_SHARE of "
        "each batch",
    )
    parser.add_argument(
        "--mine-near",
        action="store_true",
        help="--mine-detector: the detector's near misses (heat-map points away from every "
        "caliper point its verdict refiner gives at least MINED_NEAR) join the negatives",
    )
    parser.add_argument(
        "--combine-heat",
        type=Path,
        default=None,
        help="with --combine: this file's heat map instead of JUDGE's",
    )
    parser.add_argument(
        "--combine",
        type=Path,
        nargs=2,
        metavar=("JUDGE", "PLACE"),
        default=None,
        help="no training: write to --out a version 3 file, JUDGE's heat map and version 2 "
        "refiner (the verdict) with PLACE's version 1 refiner (the offsets)",
    )
    args = parser.parse_args()
    cv2.setNumThreads(1)
    import torch

    if args.combine is not None:
        judge, place = (torch.load(p, map_location="cpu", weights_only=True) for p in args.combine)
        heat = (
            torch.load(args.combine_heat, map_location="cpu", weights_only=True)
            if args.combine_heat is not None
            else None
        )
        torch.save(combine_version_3(judge, place, heat), args.out)
        print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
        return

    torch.set_num_threads(1)
    start = time.time()
    cache = args.cache
    if args.refiner_version == 2:
        if args.coarse is None:
            parser.error("--refiner-version 2 needs --coarse (a trained heat map)")
        coarse = caliper_net.build_model()
        _load_part(coarse, args.coarse, "coarse.", lambda k: k.startswith("coarse."))
        coarse.eval()
        samples = _samples(
            cache / f"samples_{args.sample_screens}_{args.seed}.npz" if cache else None,
            lambda: render_samples(args.sample_screens, args.seed + 5, coarse),
        )
        if args.sample_focus:
            extra = _samples(
                cache / f"samples_focus_{args.sample_focus}_{args.seed}.npz" if cache else None,
                lambda: render_samples(args.sample_focus, args.seed + 6, coarse, FOCUS_SEED, weak),
            )
            samples = tuple(  # type: ignore[assignment]
                np.concatenate([a, b]) for a, b in zip(samples, extra, strict=True)
            )
        if args.sample_ui:
            extra = _samples(
                cache / f"samples_ui_{args.sample_ui}_{args.seed}.npz" if cache else None,
                lambda: render_ui_samples(args.sample_ui, args.seed + 7),
            )
            samples = tuple(  # type: ignore[assignment]
                np.concatenate([a, b]) for a, b in zip(samples, extra, strict=True)
            )
        if args.sample_edges:
            name = "edge_glyphs" if args.edge_glyphs else "edge"
            extra = _samples(
                cache / f"samples_{name}_{args.sample_edges}_{args.seed}.npz" if cache else None,
                lambda: render_edge_samples(
                    args.sample_edges, args.seed + 8, glyphs=args.edge_glyphs
                ),
            )
            samples = tuple(  # type: ignore[assignment]
                np.concatenate([a, b]) for a, b in zip(samples, extra, strict=True)
            )
        if args.mine_detector:
            tag = "_near" if args.mine_near else ""
            extra = _samples(
                cache / f"samples_detector{tag}_{args.mine_detector}_{args.seed}.npz"
                if cache
                else None,
                lambda: render_detector_samples(
                    args.mine_detector,
                    args.seed + 12,
                    DETECTOR_SEED,
                    args.refine_from,
                    near=args.mine_near,
                ),
            )
            samples = tuple(  # type: ignore[assignment]
                np.concatenate([a, b]) for a, b in zip(samples, extra, strict=True)
            )
        if args.sample_hues:
            mine: tuple[Any, ...] = ()
            if args.mine_with is not None:
                second = caliper_net.build_model()
                _load_part(second, args.mine_with, "coarse.", lambda k: k.startswith("coarse."))
                mine = (second.eval(),)
            tag = "_mined" if mine else ""
            extra = _samples(
                cache / f"samples_hues{tag}_{args.sample_hues}_{args.seed}.npz" if cache else None,
                lambda: render_samples(
                    args.sample_hues,
                    args.seed + 10,
                    coarse,
                    HUE_SAMPLE_SEED,
                    make=hued_screen,
                    families=gen.TUNING_FAMILIES,
                    mine=mine,
                    maps=SAMPLE_MAP,
                ),
            )
            if args.hued_grey_points:
                extra = grey_points_only(extra)
            samples = tuple(  # type: ignore[assignment]
                np.concatenate([a, b]) for a, b in zip(samples, extra, strict=True)
            )
        print(f"samples: {len(samples[0])}, {time.time() - start:.0f}s", flush=True)
        teacher = None
        if args.refine_from is not None:
            teacher = caliper_net.build_refiner(2)
            _load_part(teacher, args.refine_from, "refine.", lambda k: k.startswith("refine."))
        refiner = train_refiner_v2(
            samples, args.refine_steps, 64, args.seed + 2, teacher, args.distill, args.anchor
        )
        _save(coarse, refiner, 2, args.out)
        print(f"wrote {args.out} ({args.out.stat().st_size} bytes), {time.time() - start:.0f}s")
        return
    first = _data(
        cache / f"first_{args.screens}_{args.seed}.npz" if cache else None,
        lambda: render_windows(args.screens, args.seed),
    )
    print(f"phase 1: {len(first[0])} windows, {time.time() - start:.0f}s", flush=True)
    refine_data = first
    if args.coarse is not None:
        model = caliper_net.build_model()
        _load_part(model, args.coarse, "coarse.", lambda k: k.startswith("coarse."))
        model.eval()
        if args.focus or args.hues:
            parts = [first]
            if args.focus:
                torch.manual_seed(args.seed)
                parts.append(
                    _data(
                        cache / f"focus_{FOCUS_SCREENS}_{args.seed}.npz" if cache else None,
                        lambda: render_windows(
                            FOCUS_SCREENS, args.seed + 3, FOCUS_SEED, model, weak
                        ),
                    )
                )
            if args.hues:
                torch.manual_seed(args.seed)
                parts.append(
                    _data(
                        cache / f"hues_{args.hues}_{args.seed}.npz" if cache else None,
                        lambda: render_windows(
                            args.hues,
                            args.seed + 9,
                            HUE_SEED,
                            model,
                            make=hued_screen,
                            families=gen.TUNING_FAMILIES,
                        ),
                    )
                )
            windows, points, arrows = (np.concatenate(a) for a in zip(*parts, strict=True))
            refine_data = (windows, points, arrows)
            print(f"fine-tune: {len(windows)} windows, {time.time() - start:.0f}s", flush=True)
            if args.steps:
                model = train(
                    windows, points, args.steps, args.batch, args.seed + 3, model, args.focus_lr
                )
                model.load_state_dict({k: v.half().float() for k, v in model.state_dict().items()})
    else:
        model = train(*first[:2], args.steps, args.batch, args.seed)
        torch.manual_seed(args.seed)
        mined = render_windows(MINE_SCREENS, args.seed + 1, MINE_SEED, model)
        windows = np.concatenate([first[0], mined[0]])
        points = np.concatenate([first[1], mined[1]])
        print(f"phase 2: {len(windows)} windows, {time.time() - start:.0f}s", flush=True)
        model = train(windows, points, args.steps, args.batch, args.seed + 1, model, 1.5e-3)
        # as saved (float16): the refiner mines the heat map that --coarse would load
        model.load_state_dict({k: v.half().float() for k, v in model.state_dict().items()})
    if args.keep_refiners:
        if args.coarse is None:
            parser.error("--keep-refiners needs --coarse (the file whose refiners are kept)")
        keep_heat_map(model, args.coarse, args.out)
        print(f"wrote {args.out} ({args.out.stat().st_size} bytes), {time.time() - start:.0f}s")
        return
    print(f"phase 3 (refiner): {time.time() - start:.0f}s", flush=True)
    ui = None
    if args.ui_screens:
        ui = _data(
            cache / f"ui_{args.ui_screens}_{args.seed}.npz" if cache else None,
            lambda: render_ui(args.ui_screens, args.seed + 4),
        )
        print(f"UI: {len(ui[0])} windows, {time.time() - start:.0f}s", flush=True)
    start_from = None
    if args.refine_from is not None:
        start_from = caliper_net.build_refiner()
        _load_part(start_from, args.refine_from, "refine.", lambda k: k.startswith("refine."))
    if start_from is not None and args.refine_steps == 0:
        refiner = start_from  # kept as it is
    else:
        refiner = train_refiner(
            *refine_data,
            model,
            args.refine_steps,
            64,
            args.seed + 2,
            start_from,
            args.distill,
            args.anchor,
            ui,
        )
    _save(model, refiner, 1, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes), {time.time() - start:.0f}s")


if __name__ == "__main__":
    main()
