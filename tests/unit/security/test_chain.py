"""Hash chains per stream key: an intact log verifies; an edit, a deletion or an insertion is
named at the first record it breaks."""

from pipelines.security.chain import GENESIS, Chainer, verify


def _log():
    c = Chainer()
    recs = [("A", {"n": 1}), ("B", {"n": 2}), ("A", {"n": 3}), ("A", {"n": 4})]
    return [(f"offset {i}", k, c.link(k, r)) for i, (k, r) in enumerate(recs)]


def test_an_intact_log_verifies_and_keys_chain_separately():
    """GIVEN records of two keys linked in order THEN verify passes; each key starts at GENESIS."""
    log = _log()
    assert verify(log) == (4, None)
    assert log[0][2]["prev_hash"] == GENESIS and log[1][2]["prev_hash"] == GENESIS
    assert log[2][2]["prev_hash"] == log[0][2]["hash"]


def test_an_edit_is_named():
    """GIVEN one field of record 2 edited WHEN verified THEN it is the break, as an edit."""
    log = _log()
    log[2][2]["n"] = 30
    n, brk = verify(log)
    assert (n, brk.where, brk.key) == (3, "offset 2", "A") and "edited" in brk.reason


def test_a_deletion_is_named_at_the_next_record_of_its_key():
    """GIVEN record 2 deleted WHEN verified THEN record 3 (same key) breaks the chain."""
    log = _log()
    del log[2]
    n, brk = verify(log)
    assert (brk.where, brk.key) == ("offset 3", "A") and "deleted" in brk.reason


def test_a_forged_record_without_chain_fields_is_named():
    """GIVEN a record appended without chain fields THEN it is the break."""
    log = [*_log(), ("offset 4", "A", {"n": 5})]
    assert verify(log)[1].reason == "no chain fields (prev_hash, hash)"


def test_a_log_whose_head_retention_deleted_verifies_only_when_anchored():
    """GIVEN the log without its first record (deleted by retention) WHEN verified plainly THEN
    key A's first remaining record breaks; WHEN verified with anchored_start THEN it is intact,
    and an edit after the head is still named."""
    log = _log()[1:]
    assert verify(log)[1].where == "offset 2"
    assert verify(log, anchored_start=True) == (3, None)
    log[2][2]["n"] = 40
    assert verify(log, anchored_start=True)[1].where == "offset 3"


def test_a_value_that_is_not_a_json_object_is_named():
    """GIVEN a record that could not be parsed (None) THEN it is the break."""
    n, brk = verify([*_log(), ("offset 4", "A", None)])
    assert (n, brk.where, brk.reason) == (5, "offset 4", "not a JSON object")


def test_records_re_emitted_after_a_restart_are_accepted_and_counted():
    """GIVEN key A's records 2 and 3 written again after record 3 (an at-least-once sink after a
    restart from a checkpoint), then A's next record chained after 3 WHEN verified THEN intact,
    the two copies reported as duplicates; a copy whose content was changed is still an edit."""
    c = Chainer()
    recs = [c.link("A", {"n": i}) for i in range(4)]
    log = [(f"offset {i}", "A", r) for i, r in enumerate([*recs[:4], recs[2], recs[3]])]
    log.append(("offset 6", "A", c.link("A", {"n": 4})))
    seen: list[str] = []
    assert verify(log, on_duplicate=lambda where, key: seen.append(where)) == (7, None)
    assert seen == ["offset 4", "offset 5"]
    log[4] = ("offset 4", "A", {**recs[2], "n": 20})
    assert verify(log)[1].where == "offset 4"
