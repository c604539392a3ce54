"""Incremental builds: adding a dataset to a built warehouse gives exactly the marts of a full rebuild.

A synthetic warehouse is built without one dataset's edits file, the file is added, `editlens build` runs again
(the incremental path, the default), and every mart is compared, row for row by checksum, with a fresh full
build of the same files. The incremental models must have recomputed only the added dataset.
"""

from __future__ import annotations

import shutil

import duckdb
import pytest

from bench.synthetic_warehouse import make_synthetic_warehouse
from editlens.build import run_build
from editlens.warehouse import Warehouse

ADDED = "hq-edit-train-00008.parquet"  # the synthetic generator writes one edits file per dataset part


# columns that record how a table was built, not what it holds: the number a content got and the build that added it
BUILD_COLUMNS = {"int_source_phash_blocks": ("image_no", "added_build")}


def table_checksum(con, table: str) -> tuple[int, int]:
    """Row count and an order-free sum of row hashes; floating columns rounded to 9 decimals (a mean summed in
    another row order differs in its last bits)."""
    cols = con.sql(f"select column_name, data_type from information_schema.columns where table_schema = 'main'"
                   f" and table_name = '{table}' order by ordinal_position").fetchall()
    cols = [(c, t) for c, t in cols if c not in BUILD_COLUMNS.get(table, ())]
    exprs = [f'round("{c}", 9)' if t in ("DOUBLE", "FLOAT", "REAL") else f'"{c}"' for c, t in cols]
    n, s = con.sql(f'select count(*), coalesce(sum(hash({", ".join(exprs)})::hugeint), 0) from "{table}"').fetchone()
    return n, int(s)


def mart_checksums(db) -> dict[str, tuple[int, int]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        marts = [r[0] for r in con.sql(
            "select table_name from information_schema.tables where table_schema = 'main'"
            " and table_name not like 'stg_%' and table_name not like 'int_%'"
            " and table_name <> 'editlens_incremental_state' and table_type = 'BASE TABLE'").fetchall()]
        return {m: table_checksum(con, m) for m in marts}
    finally:
        con.close()


def exported_checksums(root) -> dict[str, tuple[int, int]]:
    """table_checksum of every exported mart, read from DIR/marts as a reader would."""
    wh = Warehouse.at(root)
    con = duckdb.connect()
    try:
        for p in sorted(wh.marts_dir.glob("*.parquet")):
            src = wh.mart_source(p.stem)
            if src is not None:
                con.execute(f"create view \"{p.stem}\" as select * from read_parquet('{src}')")
        views = [r[0] for r in con.sql("select view_name from duckdb_views() where not internal").fetchall()]
        return {v: table_checksum(con, v) for v in views}
    finally:
        con.close()


def export_files(root) -> dict[str, int]:
    """Every file under DIR/marts (a per-dataset mart's files as `<mart>.parquet/<file>`) and its mtime."""
    marts = Warehouse.at(root).marts_dir
    return {str(p.relative_to(marts)): p.stat().st_mtime_ns for p in marts.rglob("*.parquet") if p.is_file()}


def share_images_with_old_datasets(root):
    """Make the added dataset's source images meet the others': 4 reuse an old source content (cross-dataset
    overlaps), 4 get a pHash 1 bit from an old source's (near duplicates new against old), and 2 pairs of its own
    sources lie 2 bits apart (new against new). Written into its image facts file, as embed would have."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    con = duckdb.connect()
    edits = f"{root}/parquet/edits"
    facts_file = root / "parquet" / "image_facts" / ADDED
    new = [r[0] for r in con.sql(f"select source_image_id from '{edits}/{ADDED}' order by edit_id limit 12").fetchall()]
    old = con.sql(f"""select f.sha256, f.phash from '{edits}/*.parquet' as e
        join '{root}/parquet/image_facts/*.parquet' as f on f.image_id = e.source_image_id
        where e.dataset <> 'hq-edit' and f.status = 'ok' order by f.sha256 limit 8""").fetchall()
    con.close()
    facts = pq.read_table(facts_file).to_pylist()
    by_id = {r["image_id"]: r for r in facts}
    for i, image_id in enumerate(new):
        row = by_id[image_id]
        row["status"] = "ok"
        if i < 4:
            row["sha256"], row["phash"] = old[i]
        elif i < 8:
            row["phash"] = old[i][1] ^ (1 << (3 * i))
        elif i % 2 == 1:
            row["phash"] = by_id[new[i - 1]]["phash"] ^ 0b101
    pq.write_table(pa.Table.from_pylist(facts, schema=pq.read_schema(facts_file)), facts_file)


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory):
    base = tmp_path_factory.mktemp("incr")
    inc = base / "incremental"
    make_synthetic_warehouse(inc, n_edits=6000, seed=5)
    share_images_with_old_datasets(inc)
    full = base / "full"
    full.mkdir()
    shutil.copytree(inc / "parquet", full / "parquet")
    added = inc / "parquet" / "edits" / ADDED
    assert added.is_file()
    held = base / ADDED
    added.rename(held)
    assert run_build(Warehouse.at(inc), ["--quiet"]) == 0
    before = mart_checksums(inc / "editlens.duckdb")
    exported = export_files(inc)
    held.rename(added)
    assert run_build(Warehouse.at(inc), ["--quiet"]) == 0
    assert run_build(Warehouse.at(full), ["--quiet"]) == 0
    return {"inc": inc, "full": full, "before": before, "exported": exported}


def test_adding_a_dataset_gives_the_marts_of_a_full_rebuild(warehouses):
    got = mart_checksums(warehouses["inc"] / "editlens.duckdb")
    want = mart_checksums(warehouses["full"] / "editlens.duckdb")
    assert sorted(got) == sorted(want)
    assert len(want) >= 15
    assert {m: got[m] for m in got if got[m] != want[m]} == {}
    # the added dataset did change the marts (the comparison is not between two identical inputs)
    assert warehouses["before"]["edits"][0] < got["edits"][0]
    assert warehouses["before"]["edits"] != got["edits"]


def test_the_added_dataset_meets_the_old_ones(warehouses):
    """The cross-dataset models found the added dataset's overlaps and near duplicates, new against old and new
    against new (what the incremental run had to compute without comparing old against old)."""
    con = duckdb.connect(str(warehouses["inc"] / "editlens.duckdb"), read_only=True)
    overlaps = con.sql("select count(*) from int_content_overlaps where list_contains(datasets, 'hq-edit')"
                       " and n_datasets > 1").fetchone()[0]
    kinds = con.sql("""select count(*) filter (where dataset_a <> dataset_b), count(*) filter (where dataset_a = dataset_b)
        from near_duplicate_pairs where 'hq-edit' in (dataset_a, dataset_b)""").fetchone()
    con.close()
    assert overlaps >= 4
    assert kinds[0] >= 4 and kinds[1] >= 2


def test_every_incremental_table_equals_its_full_rebuild(warehouses):
    con = duckdb.connect(str(warehouses["inc"] / "editlens.duckdb"), read_only=True)
    models = [r[0] for r in con.sql(
        "select distinct model from editlens_incremental_state where not contains(model, '#')").fetchall()]
    con.close()
    assert {"stg_editlens__edits", "int_instructions", "int_instruction_rule_labels", "int_edit_images", "edits",
            "int_source_phash_blocks", "int_near_duplicate_sources", "int_content_overlaps",
            "int_edit_attribute_shifts", "int_exact_duplicate_pairs", "int_instruction_label_scores",
            "edit_labels", "image_locations", "edit_map"} <= set(models)
    got = mart_checksums_of(warehouses["inc"], models)
    want = mart_checksums_of(warehouses["full"], models)
    assert got == want


def mart_checksums_of(root, tables):
    con = duckdb.connect(str(root / "editlens.duckdb"), read_only=True)
    try:
        return {m: table_checksum(con, m) for m in tables}
    finally:
        con.close()


def test_the_incremental_run_recomputed_only_the_added_dataset(warehouses):
    compiled = warehouses["inc"] / "dbt" / "target" / "compiled" / "editlens" / "models"
    stg = (compiled / "staging" / "stg_editlens__edits.sql").read_text()
    assert "in ('hq-edit')" in stg
    assert "in ('hq-edit')" in (compiled / "marts" / "edits.sql").read_text()
    # the cross-dataset models: new contents against old ones, the overlaps of the contents the new dataset uses
    assert "added_build > 1" in (compiled / "intermediate" / "int_near_duplicate_sources.sql").read_text()
    assert "__recheck" in (compiled / "intermediate" / "int_content_overlaps.sql").read_text()
    mentions = (compiled / "intermediate" / "int_safety_mentions.sql").read_text()
    assert "in ('hq-edit')" in mentions
    images = (compiled / "intermediate" / "int_edit_images.sql").read_text()
    assert "in ('hq-edit')" in images
    # the edit map: the added dataset's points, the old ones kept (the projections were not written again; the
    # quality flags the added dataset changed in old edits are joined by the page, not stored in the map)
    assert "in ('hq-edit')" in (compiled / "marts" / "edit_map.sql").read_text()
    # the quality flags: the added dataset's edits, and the edits whose flags depend on other datasets' edits
    flags = (compiled / "marts" / "edit_quality_flags.sql").read_text()
    assert "in ('hq-edit')" in flags and "edit_quality_flags__recheck" in flags
    # the per-dataset aggregates and safety marts: the added dataset's rows only
    for mart in ("instruction_type_stats", "bias_slices", "score_distributions", "label_cooccurrence",
                 "safety_slices", "safety_flagged_edits"):
        assert "in ('hq-edit')" in (compiled / "marts" / f"{mart}.sql").read_text(), mart
    # tables of inputs the added edits leave as they are: kept, no row computed
    for model in ("int_concept_calibration", "int_image_safety_flags", "int_score_model"):
        assert (compiled / "intermediate" / f"{model}.sql").read_text().rstrip().endswith("where false"), model
    # the full build of a fresh warehouse filters nothing
    fresh = warehouses["full"] / "dbt" / "target" / "compiled" / "editlens" / "models"
    assert "in ('" not in (fresh / "staging" / "stg_editlens__edits.sql").read_text()
    assert (fresh / "intermediate" / "int_concept_calibration.sql").read_text().rstrip().endswith("where true")


def _compiled_tests(root, yml: str) -> dict[str, str]:
    folder = root / "dbt" / "target" / "compiled" / "editlens" / "models" / yml
    return {p.stem: p.read_text() for p in folder.glob("*.sql")}


def test_the_incremental_run_tested_the_rows_it_wrote(warehouses):
    """Generic tests of an incremental model run on the partitions the run recomputed; a full build tests every
    row; a table kept as it is is tested on no row."""
    inc = _compiled_tests(warehouses["inc"], "marts/_marts__models.yml")
    full = _compiled_tests(warehouses["full"], "marts/_marts__models.yml")
    unique_edits = next(k for k in inc if k.startswith("unique_edits_edit_id"))
    assert "where cast(dataset as varchar) in ('hq-edit')))) dbt_subquery" in inc[unique_edits]
    assert "dbt_subquery" not in full[unique_edits]
    assert "(cast(dataset as varchar) in ('hq-edit'))) dbt_subquery" in inc["not_null_edit_map_edit_id"]
    # the cross pattern: the changed dataset's rows and the rechecked ones (the recheck table lives until the end)
    flags = next(k for k in inc if k.startswith("unique_edit_quality_flags_edit_id"))
    assert "in ('hq-edit')) or edit_id in (select edit_id from" in inc[flags]
    assert "edit_quality_flags__recheck" in inc[flags]
    # a table rebuilt whole is tested whole
    scorecard = next(k for k in inc if k.startswith("unique_combination_of_columns_dataset_scorecard"))
    assert "dbt_subquery" not in inc[scorecard]
    ints = _compiled_tests(warehouses["inc"], "intermediate/_int__models.yml")
    kept = [k for k in ints if "int_concept_calibration" in k]
    assert kept and all("where (false)" in ints[k] for k in kept)


def test_the_export_keeps_the_marts_the_run_left_as_they_were(warehouses):
    """image_locations (the images did not change) keeps its file; the marts the added dataset changed are
    written again, and of the per-dataset marts only the added dataset's file (edit_quality_flags also rewrites
    the datasets whose cross-dataset flags it rechecked); every exported mart equals its table and the full
    rebuild's export."""
    now = export_files(warehouses["inc"])
    before = warehouses["exported"]
    assert now["image_locations.parquet"] == before["image_locations.parquet"]
    assert now["bias_slices.parquet"] != before["bias_slices.parquet"]
    old_datasets = ("seed-data-edit", "instructpix2pix", "magicbrush")
    for mart in ("edits", "edit_map", "edit_quality_flags"):
        assert f"{mart}.parquet/dataset-hq-edit.parquet" not in before, mart
        assert f"{mart}.parquet/dataset-hq-edit.parquet" in now, mart
        assert {f for f in now if f.startswith(f"{mart}.parquet/")} == {
            f"{mart}.parquet/dataset-{d}.parquet" for d in (*old_datasets, "hq-edit")}
    for mart in ("edits", "edit_map"):
        for d in old_datasets:
            f = f"{mart}.parquet/dataset-{d}.parquet"
            assert now[f] == before[f], f
    con = duckdb.connect(str(warehouses["inc"] / "editlens.duckdb"), read_only=True)
    try:
        for name in {f.split("/")[0] for f in now}:
            table = name.removesuffix(".parquet")
            got = con.sql(f"select count(*) from read_parquet('{warehouses['inc']}/marts/{name}')").fetchone()[0]
            assert got == con.sql(f'select count(*) from "{table}"').fetchone()[0], table
        per_dataset = con.sql("select dataset, count(*) from edits group by all").fetchall()
    finally:
        con.close()
    for dataset, n in per_dataset:
        f = warehouses["inc"] / "marts" / "edits.parquet" / f"dataset-{dataset}.parquet"
        assert duckdb.sql(f"select count(*), min(dataset), max(dataset) from '{f}'").fetchone() == (n, dataset, dataset)
    inc, full = exported_checksums(warehouses["inc"]), exported_checksums(warehouses["full"])
    assert len(inc) == 23 and sorted(inc) == sorted(full)
    assert {m: inc[m] for m in inc if inc[m] != full[m]} == {}


@pytest.fixture(scope="module")
def reembedded(tmp_path_factory):
    """A built warehouse whose image facts of one dataset part change (embed ran again), rebuilt incrementally, and
    a fresh full build of the same files."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    base = tmp_path_factory.mktemp("reembed")
    inc = base / "incremental"
    make_synthetic_warehouse(inc, n_edits=3000, seed=7, concepts=False)
    assert run_build(Warehouse.at(inc), ["--quiet"]) == 0
    before = mart_checksums_of(inc, ["int_edit_images", "edits"])
    facts_file = sorted((inc / "parquet" / "image_facts").glob("*.parquet"))[0]
    facts = pq.read_table(facts_file)
    n = facts.num_rows
    changed = pc.if_else(pa.array([i < n // 2 for i in range(n)]), pa.scalar("error"), facts["status"])
    facts = facts.set_column(facts.schema.get_field_index("status"), "status", changed)
    pq.write_table(facts, facts_file)
    full = base / "full"
    full.mkdir()
    shutil.copytree(inc / "parquet", full / "parquet")
    assert run_build(Warehouse.at(inc), ["--quiet"]) == 0
    assert run_build(Warehouse.at(full), ["--quiet"]) == 0
    return {"inc": inc, "full": full, "before": before}


def test_embedding_a_dataset_again_gives_the_marts_of_a_full_rebuild(reembedded):
    got = mart_checksums(reembedded["inc"] / "editlens.duckdb")
    want = mart_checksums(reembedded["full"] / "editlens.duckdb")
    assert {m: got[m] for m in got if got[m] != want[m]} == {}
    images = mart_checksums_of(reembedded["inc"], ["int_edit_images"])
    assert images == mart_checksums_of(reembedded["full"], ["int_edit_images"])
    # the changed facts did reach the incremental table
    assert images["int_edit_images"] != reembedded["before"]["int_edit_images"]
    compiled = reembedded["inc"] / "dbt" / "target" / "compiled" / "editlens" / "models" / "intermediate"
    assert "in ('" in (compiled / "int_edit_images.sql").read_text()


@pytest.fixture(scope="module")
def changed(warehouses, tmp_path_factory):
    """The incremental warehouse after two more builds: the added dataset re-ingested with changes (half its
    edits, those meeting old datasets among them, gone), then removed; each against a fresh full build."""
    import pyarrow.parquet as pq

    base = tmp_path_factory.mktemp("changed")
    inc = base / "incremental"
    shutil.copytree(warehouses["inc"], inc)
    edits_file = inc / "parquet" / "edits" / ADDED
    table = pq.read_table(edits_file).sort_by("edit_id")
    pq.write_table(table.filter([i % 2 == 1 for i in range(table.num_rows)]), edits_file)
    out = {}
    for step in ("changed", "removed"):
        if step == "removed":
            edits_file.unlink()
        assert run_build(Warehouse.at(inc), ["--quiet"]) == 0
        full = base / f"full-{step}"
        full.mkdir()
        shutil.copytree(inc / "parquet", full / "parquet")
        assert run_build(Warehouse.at(full), ["--quiet"]) == 0
        con = duckdb.connect(str(inc / "editlens.duckdb"), read_only=True)
        models = [r[0] for r in con.sql("select distinct model from editlens_incremental_state"
                                        " where not contains(model, '#')").fetchall()]
        con.close()
        out[step] = {"got": {**mart_checksums(inc / "editlens.duckdb"), **mart_checksums_of(inc, models)},
                     "want": {**mart_checksums(full / "editlens.duckdb"), **mart_checksums_of(full, models)},
                     "exported": exported_checksums(inc), "exported_full": exported_checksums(full),
                     "files": export_files(inc)}
    return out


@pytest.mark.parametrize("step", ["changed", "removed"])
def test_a_changed_or_removed_dataset_gives_the_marts_of_a_full_rebuild(changed, step):
    got, want = changed[step]["got"], changed[step]["want"]
    assert sorted(got) == sorted(want)
    assert {m: got[m] for m in got if got[m] != want[m]} == {}


@pytest.mark.parametrize("step", ["changed", "removed"])
def test_a_changed_or_removed_dataset_gives_the_exported_marts_of_a_full_rebuild(changed, step):
    """Read from DIR/marts, every mart equals the full rebuild's; a removed dataset leaves no file behind."""
    got, want = changed[step]["exported"], changed[step]["exported_full"]
    assert len(got) == 23 and sorted(got) == sorted(want)
    assert {m: got[m] for m in got if got[m] != want[m]} == {}
    hq = {f for f in changed[step]["files"] if f.endswith("/dataset-hq-edit.parquet")}
    assert hq == (set() if step == "removed" else {f"{m}.parquet/dataset-hq-edit.parquet"
                                                  for m in ("edits", "edit_map", "edit_quality_flags")})


def test_the_export_replaces_an_older_layout_and_files_it_did_not_write(warehouses, tmp_path):
    """A build over marts exported by an older build (edits as one file) or holding a file no dataset has (a
    removed dataset's, say) writes those marts' folders whole: the exported marts equal the full rebuild's."""
    root = tmp_path / "wh"
    shutil.copytree(warehouses["inc"], root)
    marts = root / "marts"
    edits = marts / "edits.parquet"
    shutil.rmtree(edits)
    con = duckdb.connect(str(root / "editlens.duckdb"), read_only=True)
    con.execute(f"copy (select * from edits) to '{edits}' (format parquet)")
    con.close()
    stray = marts / "edit_map.parquet" / "dataset-gone.parquet"
    shutil.copy(marts / "edit_map.parquet" / "dataset-magicbrush.parquet", stray)
    assert run_build(Warehouse.at(root), ["--quiet"]) == 0
    files = export_files(root)
    datasets = {"seed-data-edit", "instructpix2pix", "magicbrush", "hq-edit"}
    for mart in ("edits", "edit_map"):
        assert {f for f in files if f.startswith(f"{mart}.parquet")} == {
            f"{mart}.parquet/dataset-{d}.parquet" for d in datasets}, mart
    assert not stray.exists()
    got, want = exported_checksums(root), exported_checksums(warehouses["full"])
    assert sorted(got) == sorted(want) and {m: got[m] for m in got if got[m] != want[m]} == {}
