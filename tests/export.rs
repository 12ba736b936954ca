//! Evidence (#34): the audit log as a hash chain, originals as received, and
//! `pult export` / `pult export verify`.

mod common;

use common::*;

/// A store from before the chain gets its rows chained by the migration;
/// `pult audit verify` passes, then names the row someone edited.
#[test]
fn audit_verify_checks_the_chain_and_names_the_edited_row() {
    let home = tempfile::tempdir().expect("tmp");
    let path = home.path().join("old.db");
    {
        let db = old_store(&path, 25);
        db.run_sql(
            "INSERT INTO audit (at, actor, action, conversation_id, detail) VALUES
               (10, 'anna', 'task.accept', 1, 'до пятницы'), (20, 'boris', 'send', 1, NULL), (30, 'anna', 'note', 2, 'x');",
        )
        .expect("old rows");
    }
    let verify = |json: bool| {
        let mut c = pult(home.path());
        c.args(["audit", "verify", "--store"]).arg(&path);
        if json {
            c.arg("--json");
        }
        c.output().expect("run")
    };
    let out = verify(false);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 rows"), "{}", String::from_utf8_lossy(&out.stdout));
    // New rows continue the chain the migration made.
    let s = pult::store::Writer::spawn(&path).expect("writer");
    let store = shared(&path, &s);
    let ch = channel(&store, "tg", pult::model::ChannelKind::Telegram);
    ingest(&store, ch, vec![msg("1", "c1", "Иван", NOW, "Пришлите акт сверки")]);
    let conv: i64 = rusqlite::Connection::open(&path)
        .expect("open")
        .query_row("SELECT id FROM conversations", [], |r| r.get(0))
        .expect("conversation");
    queue_reply(&store, conv, "Принято в работу");
    queue_reply(&store, conv, "Выполнено.");
    let conn = rusqlite::Connection::open(&path).expect("open");
    let rows: Vec<(i64, Option<String>, Option<String>)> = conn
        .prepare("SELECT id, prev_hash, row_hash FROM audit ORDER BY id")
        .expect("sql")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(rows.len() >= 5, "{rows:?}");
    assert_eq!(rows[0].1, None, "the first row follows nothing");
    for w in rows.windows(2) {
        assert_eq!(w[1].1, w[0].2, "row {} links to row {}", w[1].0, w[0].0);
    }
    let out = verify(true);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["ok"], true, "{v}");
    // An edit past the append-only trigger is found and named.
    conn.execute_batch("DROP TRIGGER audit_no_update; UPDATE audit SET detail = 'до понедельника' WHERE id = 1;")
        .expect("tamper");
    let out = verify(false);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("audit row 1 was changed"), "{err}");
    let out = verify(true);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        (v["ok"].clone(), v["broken_row"].clone(), v["reason"].clone()),
        (false.into(), 1.into(), "edited".into())
    );
    drop(store);
}
