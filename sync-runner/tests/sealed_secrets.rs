//! Secrets sealed in the connection under the host's key (AES-256-GCM):
//! no plaintext in the stored connection, a wrong key or altered ciphertext
//! is a recorded run failure with its fix, and keys rotate.

mod common;

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use common::*;
use directory_core::SecretString;
use sync_runner::{
    Connection, EncryptedSecrets, MemoryFactory, MemoryHost, MemorySecrets, MemoryStore,
    RunOutcome, Runner, RunnerStore, SealingKey, SecretErrorKind, SecretRef, SecretResolver,
};

const TOKEN: &str = "tok-5e41ed-plaintext";

fn key(id: &str, byte: u8) -> SealingKey {
    SealingKey::new(id, [byte; 32]).unwrap()
}

/// A connection whose `"token"` is sealed by `secrets`.
fn sealed_connection(id: &str, secrets: &EncryptedSecrets) -> Connection {
    let mut c = connection(id, id, "d");
    secrets
        .seal_into(&mut c, "token", &SecretString::new(TOKEN))
        .unwrap();
    c
}

/// A runner whose directory `"d"` wants [`TOKEN`], opening secrets with `secrets`.
fn runner(store: &Arc<MemoryStore>, secrets: EncryptedSecrets, ids: &[&str]) -> Runner {
    let host = MemoryHost::new();
    for id in ids {
        host.set(&format!("tenant-{id}"), host_data(vec![]));
    }
    let factory = MemoryFactory::new();
    factory.register("d", directory("d", 2), Some(SecretString::new(TOKEN)));
    Runner::new(
        store.clone(),
        Arc::new(host),
        Arc::new(factory),
        Arc::new(secrets),
    )
    .with_clock(TokioClock::new())
    .with_config(config())
}

fn failure(runs: &[sync_runner::RunRecord]) -> &sync_runner::RunError {
    match &runs.last().unwrap().outcome {
        RunOutcome::Failed(e) => e,
        other => panic!("not a failure: {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_sealed_secret_reaches_the_provider_and_no_stored_form_holds_it() {
    let secrets = EncryptedSecrets::new(key("k1", 1));
    let store = Arc::new(MemoryStore::new());
    store
        .put_connection(sealed_connection("c", &secrets), t0())
        .await
        .unwrap();
    let r = runner(&store, secrets.clone(), &["c"]);
    drain(&r.worker("w")).await;
    assert!(matches!(
        store.runs("c").await.unwrap()[0].outcome,
        RunOutcome::Applied { .. }
    ));

    let stored = store.connection("c").await.unwrap().unwrap();
    let json = serde_json::to_string(&stored).unwrap();
    let shown = [
        json.clone(),
        format!("{stored:?}"),
        format!("{store:?}"),
        format!("{secrets:?}"),
        format!("{r:?}"),
    ];
    let encoded = BASE64.encode(TOKEN);
    for text in shown {
        assert!(
            !text.contains(TOKEN) && !text.contains(&encoded[..16]),
            "plaintext shown: {text}"
        );
    }
    // The stored form is the ciphertext, and it reads back to the same connection.
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let sealed = &value["provider"]["secrets"]["token"];
    assert_eq!(sealed["key_id"], "k1");
    assert!(sealed["ciphertext"].is_string() && sealed["nonce"].is_string());
    assert_eq!(serde_json::from_str::<Connection>(&json).unwrap(), stored);
}

#[tokio::test(start_paused = true)]
async fn a_wrong_key_an_unknown_key_or_an_altered_ciphertext_is_a_failed_run_with_its_fix() {
    let sealer = EncryptedSecrets::new(key("k1", 1));
    let good = sealed_connection("good", &sealer);

    let wrong_key = sealed_connection("wrong-key", &sealer);
    let unknown_key = sealed_connection("unknown-key", &EncryptedSecrets::new(key("k0", 3)));
    // Each secret of a connection is reported, with its own fix.
    let mut two = sealed_connection("two", &EncryptedSecrets::new(key("k0", 3)));
    EncryptedSecrets::new(key("k0", 3))
        .seal_into(&mut two, "client_secret", &SecretString::new("x"))
        .unwrap();
    let mut altered = serde_json::to_value(sealed_connection("altered", &sealer)).unwrap();
    let field = &mut altered["provider"]["secrets"]["token"]["ciphertext"];
    let mut bytes = BASE64.decode(field.as_str().unwrap()).unwrap();
    bytes[0] ^= 1;
    *field = BASE64.encode(bytes).into();
    let altered: Connection = serde_json::from_value(altered).unwrap();
    // A ciphertext copied from another connection.
    let mut copied = connection("copied", "copied", "d");
    copied
        .provider
        .secrets
        .insert("token".into(), good.provider.secrets["token"].clone());

    let store = Arc::new(MemoryStore::new());
    for c in [good, altered, copied, unknown_key, two] {
        store.put_connection(c, t0()).await.unwrap();
    }
    let ids = ["good", "altered", "copied", "unknown-key", "two"];
    drain(&runner(&store, sealer, &ids).worker("w")).await;
    // The runner holds another key under the same id.
    store.put_connection(wrong_key, t0()).await.unwrap();
    drain(&runner(&store, EncryptedSecrets::new(key("k1", 2)), &["wrong-key"]).worker("w")).await;

    assert!(matches!(
        store.runs("good").await.unwrap()[0].outcome,
        RunOutcome::Applied { .. }
    ));
    for (id, kind, fixes) in [
        ("altered", "secret_cannot_open", 1),
        ("copied", "secret_cannot_open", 1),
        ("wrong-key", "secret_cannot_open", 1),
        ("unknown-key", "secret_unknown_key", 1),
        ("two", "secret_unknown_key", 2),
    ] {
        let runs = store.runs(id).await.unwrap();
        let e = failure(&runs);
        assert_eq!(
            (e.stage.as_str(), e.kind.as_str()),
            ("secrets", kind),
            "{id}: {e:?}"
        );
        assert_eq!(e.fixes.len(), fixes, "{id}: {e:?}");
        assert!(
            e.fixes
                .iter()
                .all(|f| f.starts_with("provider.secrets.") && f.contains("re-enter the secret")),
            "{id}: {e:?}"
        );
        assert!(!format!("{runs:?}").contains(TOKEN));
        let status = store.status(id, t0()).await.unwrap().unwrap();
        assert_eq!(status.consecutive_failures, 1, "{id} backs off");
    }
}

#[tokio::test(start_paused = true)]
async fn keys_rotate_and_the_old_key_can_be_retired() {
    let old = EncryptedSecrets::new(key("2026-01", 1));
    let store = Arc::new(MemoryStore::new());
    let ids = ["a", "b", "c"];
    for id in ids {
        store
            .put_connection(sealed_connection(id, &old), t0())
            .await
            .unwrap();
    }
    let both = EncryptedSecrets::new(key("2026-07", 7))
        .with_old_key(key("2026-01", 1))
        .unwrap();
    for id in ids {
        let mut c = store.connection(id).await.unwrap().unwrap();
        assert_eq!(both.rotate(&mut c).unwrap(), 1);
        assert_eq!(both.rotate(&mut c).unwrap(), 0, "rotated already");
        store.put_connection(c, t0()).await.unwrap();
    }
    // Only the new key now: every connection still runs.
    let new_only = EncryptedSecrets::new(key("2026-07", 7));
    drain(&runner(&store, new_only, &ids).worker("w")).await;
    for id in ids {
        let c = store.connection(id).await.unwrap().unwrap();
        let SecretRef::Sealed(s) = &c.provider.secrets["token"] else {
            panic!("{c:?}")
        };
        assert_eq!(s.key_id(), "2026-07");
        assert!(matches!(
            store.runs(id).await.unwrap()[0].outcome,
            RunOutcome::Applied { .. }
        ));
    }
    // The retired key opens nothing any more.
    let c = store.connection("a").await.unwrap().unwrap();
    let err = c.secret("token", &old).await.unwrap_err();
    assert!(err.to_string().contains("2026-07"), "{err}");
}

#[tokio::test]
async fn each_seal_takes_a_fresh_nonce_and_named_secrets_go_to_the_inner_resolver() {
    let named = MemorySecrets::default();
    named.insert("tenant-c", "vault-name", SecretString::new("from-vault"));
    let secrets = EncryptedSecrets::new(key("k1", 1)).with_resolver(Arc::new(named));
    let c = connection("c", "org", "d");
    let value = SecretString::new(TOKEN);
    let one = secrets.seal(&c, "token", &value).unwrap();
    let two = secrets.seal(&c, "token", &value).unwrap();
    let (j1, j2) = (
        serde_json::to_value(&one).unwrap(),
        serde_json::to_value(&two).unwrap(),
    );
    assert_ne!(j1["nonce"], j2["nonce"]);
    assert_ne!(j1["ciphertext"], j2["ciphertext"]);
    // Bound to its purpose: the token's ciphertext does not open as another secret.
    let err = secrets.open(&c, "client_secret", &one).unwrap_err();
    assert_eq!(err.kind, SecretErrorKind::CannotOpen);

    let mut c = c;
    c.provider
        .secrets
        .insert("client_secret".into(), "vault-name".into());
    let resolved = c.secret("client_secret", &secrets).await.unwrap();
    assert_eq!(resolved.expose_secret(), "from-vault");
    // A resolver without keys refuses a sealed secret, saying what to give the runner.
    c.provider.secrets.insert("token".into(), one.into());
    let err = c
        .secret("token", &MemorySecrets::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("EncryptedSecrets"), "{err}");
}
