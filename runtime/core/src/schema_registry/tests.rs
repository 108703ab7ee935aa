use super::*;

fn registry() -> SchemaRegistry {
    SchemaRegistry::new(StateLog::memory_with("schemas", first_write_wins))
}

fn avro(fields: &str) -> SchemaSubmission {
    SchemaSubmission {
        schema: format!(r#"{{"type": "record", "name": "R", "fields": [{fields}]}}"#),
        schema_type: None,
        references: vec![],
    }
}

const A: &str = r#"{"name": "a", "type": "int"}"#;
const B_DEFAULT: &str = r#"{"name": "b", "type": "string", "default": "x"}"#;
const C_REQUIRED: &str = r#"{"name": "c", "type": "string"}"#;

#[tokio::test]
async fn registering_again_returns_the_id_and_evolutions_get_versions() {
    let registry = registry();
    let v1 = registry.register("orders-value", &avro(A), false).await.unwrap();
    assert_eq!(registry.register("orders-value", &avro(A), false).await.unwrap(), v1);
    let v2 = registry.register("orders-value", &avro(&format!("{A}, {B_DEFAULT}")), false).await.unwrap();
    assert_ne!(v1, v2);
    assert_eq!(registry.versions("orders-value", false).unwrap(), vec![1, 2]);
    let latest = registry.version("orders-value", VersionSelector::Latest, false).unwrap();
    assert_eq!((latest.version, latest.id, latest.schema_type), (2, v2, SchemaType::Avro));
    // The same schema under another subject has the same id, version 1 there.
    assert_eq!(registry.register("other", &avro(A), false).await.unwrap(), v1);
    assert_eq!(registry.schema_versions(v1, false).unwrap(), vec![("orders-value".to_owned(), 1), ("other".to_owned(), 1)]);
    let found = registry.lookup("orders-value", &avro(A), false, false).unwrap();
    assert_eq!((found.version, found.id), (1, v1));
    assert_eq!(registry.lookup("orders-value", &avro(C_REQUIRED), false, false).unwrap_err().code(), 40403);
    assert_eq!(registry.lookup("nobody", &avro(A), false, false).unwrap_err().code(), 40401);
}

#[tokio::test]
async fn an_incompatible_schema_is_a_409_naming_the_subject_until_the_level_allows_it() {
    let registry = registry();
    registry.register("s", &avro(A), false).await.unwrap();
    let error = registry.register("s", &avro(&format!("{A}, {C_REQUIRED}")), false).await.unwrap_err();
    assert_eq!(error.code(), 409);
    assert!(error.to_string().contains("\"s\"") && error.to_string().contains("'c'"), "{error}");
    assert_eq!(
        registry.test_compatibility("s", Some(VersionSelector::Latest), &avro(&format!("{A}, {C_REQUIRED}")), false).unwrap().len(),
        1
    );
    assert!(registry.test_compatibility("s", None, &avro(&format!("{A}, {B_DEFAULT}")), false).unwrap().is_empty());

    assert_eq!(registry.level(Some("s"), false).unwrap_err().code(), 40408);
    registry.set_level(Some("s"), CompatibilityLevel::Forward).await.unwrap();
    assert_eq!(registry.level(Some("s"), false).unwrap(), CompatibilityLevel::Forward);
    assert_eq!(registry.level(Some("t"), true).unwrap(), CompatibilityLevel::Backward);
    registry.register("s", &avro(&format!("{A}, {C_REQUIRED}")), false).await.unwrap();
    assert_eq!(registry.delete_level(Some("s")).await.unwrap(), CompatibilityLevel::Forward);
    registry.set_level(None, CompatibilityLevel::None).await.unwrap();
    registry.register("s", &avro(r#"{"name": "z", "type": "bytes"}"#), false).await.unwrap();
    assert_eq!(registry.versions("s", false).unwrap(), vec![1, 2, 3]);
}

#[tokio::test]
async fn deletes_are_soft_first_then_permanent_and_ids_keep_resolving() {
    let registry = registry();
    let id = registry.register("s", &avro(A), false).await.unwrap();
    registry.register("s", &avro(&format!("{A}, {B_DEFAULT}")), false).await.unwrap();
    assert_eq!(registry.delete_version("s", VersionSelector::Number(1), true).await.unwrap_err().code(), 40407);
    assert_eq!(registry.delete_version("s", VersionSelector::Number(1), false).await.unwrap(), 1);
    assert_eq!(registry.delete_version("s", VersionSelector::Number(1), false).await.unwrap_err().code(), 40406);
    assert_eq!(registry.versions("s", false).unwrap(), vec![2]);
    assert_eq!(registry.versions("s", true).unwrap(), vec![1, 2]);
    assert_eq!(registry.version("s", VersionSelector::Number(1), false).unwrap_err().code(), 40402);
    assert_eq!(registry.version("s", VersionSelector::Number(1), true).unwrap().id, id);

    assert_eq!(registry.delete_subject("s", true).await.unwrap_err().code(), 40405);
    assert_eq!(registry.delete_subject("s", false).await.unwrap(), vec![2]);
    assert_eq!(registry.delete_subject("s", false).await.unwrap_err().code(), 40404);
    assert!(registry.subjects(false, "").unwrap().is_empty());
    assert_eq!(registry.subjects(true, "").unwrap(), vec!["s".to_owned()]);
    // A soft-deleted subject registers on after its highest version.
    assert_eq!(registry.register("s", &avro(A), false).await.unwrap(), id);
    assert_eq!(registry.versions("s", false).unwrap(), vec![3]);
    registry.delete_subject("s", false).await.unwrap();
    assert_eq!(registry.delete_subject("s", true).await.unwrap(), vec![1, 2, 3]);
    assert_eq!(registry.version("s", VersionSelector::Latest, true).unwrap_err().code(), 40401);
    assert_eq!(registry.schema(id).unwrap().schema, r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#);
    assert_eq!(registry.schema(id + 1000).unwrap_err().code(), 40403);
}

#[tokio::test]
async fn references_are_resolved_from_their_subjects() {
    let registry = registry();
    let address = SchemaSubmission {
        schema: r#"{"type": "record", "name": "Address", "namespace": "x", "fields": [{"name": "city", "type": "string"}]}"#.into(),
        schema_type: Some("AVRO".into()),
        references: vec![],
    };
    registry.register("address", &address, false).await.unwrap();
    let mut person = SchemaSubmission {
        schema: r#"{"type": "record", "name": "Person", "namespace": "x", "fields": [{"name": "home", "type": "x.Address"}]}"#.into(),
        schema_type: None,
        references: vec![SchemaReference { name: "x.Address".into(), subject: "address".into(), version: 1 }],
    };
    let id = registry.register("person", &person, false).await.unwrap();
    assert_eq!(registry.schema(id).unwrap().references.len(), 1);
    person.references[0].version = 7;
    assert_eq!(registry.register("person2", &person, false).await.unwrap_err().code(), 42201);
}

#[tokio::test]
async fn ids_survive_a_reopen_of_the_file_log() {
    let dir = std::env::temp_dir().join(format!("connect-schemas-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("schemas.json");
    let open = || SchemaRegistry::new(StateLog::file_with("schemas", &path, first_write_wins).unwrap());
    let first = open();
    let ids = [
        first.register("a", &avro(A), false).await.unwrap(),
        first
            .register(
                "b",
                &SchemaSubmission { schema: r#"{"type": "string"}"#.into(), schema_type: Some("JSON".into()), references: vec![] },
                false,
            )
            .await
            .unwrap(),
    ];
    let again = open();
    assert_eq!(again.version("a", VersionSelector::Latest, false).unwrap().id, ids[0]);
    let json = again.version("b", VersionSelector::Number(1), false).unwrap();
    assert_eq!((json.id, json.schema_type), (ids[1], SchemaType::Json));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn versions_are_latest_minus_one_or_positive() {
    assert_eq!("latest".parse::<VersionSelector>().unwrap(), VersionSelector::Latest);
    assert_eq!("-1".parse::<VersionSelector>().unwrap(), VersionSelector::Latest);
    assert_eq!("3".parse::<VersionSelector>().unwrap(), VersionSelector::Number(3));
    for bad in ["0", "-2", "x", "99999999999"] {
        assert_eq!(bad.parse::<VersionSelector>().unwrap_err().code(), 42202, "{bad}");
    }
}
