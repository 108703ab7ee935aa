//! Round trips of every type through every converter, and Kafka wire compatibility.

use std::collections::BTreeMap;

use connect_sdk::converter::{ByteArrayConverter, Converter, DecimalFormat, JsonConverter, StringConverter};
use connect_sdk::data::logical::{self, Decimal};
use connect_sdk::data::{Schema, SchemaAndValue, Struct, Value};

fn json(schemas_enable: bool) -> JsonConverter {
    JsonConverter { schemas_enable, ..JsonConverter::default() }
}

fn round_trip(converter: &dyn Converter, schema: Option<&Schema>, value: &Value) -> SchemaAndValue {
    let bytes = converter.encode("topic", schema, value).unwrap_or_else(|e| panic!("{value:?} did not serialize: {e}"));
    converter.decode("topic", bytes.as_deref()).unwrap_or_else(|e| panic!("{value:?} did not deserialize: {e}"))
}

fn address_schema() -> Schema {
    Schema::structure().named("Address").field("street", Schema::string()).field("zip", Schema::int32().optional())
}

/// One case per type: schema, value.
fn typed_cases() -> Vec<(Schema, Value)> {
    let address = Struct::new(address_schema()).with("street", "Main St").unwrap().with("zip", 75001i32).unwrap();
    let person_schema = Schema::structure()
        .named("com.example.Person")
        .with_version(2)
        .with_doc("A person")
        .field("name", Schema::string())
        .field("age", Schema::int8())
        .field("tags", Schema::array(Schema::string()))
        .field("address", address_schema())
        .field("nickname", Schema::string().optional());
    let person = Struct::new(person_schema.clone())
        .with("name", "Ada")
        .unwrap()
        .with("age", 36i8)
        .unwrap()
        .with("tags", Value::Array(vec!["math".into(), "code".into()]))
        .unwrap()
        .with("address", address)
        .unwrap();
    vec![
        (Schema::boolean(), Value::Bool(true)),
        (Schema::int8(), Value::Int8(-128)),
        (Schema::int16(), Value::Int16(32_767)),
        (Schema::int32(), Value::Int32(-2_000_000_000)),
        (Schema::int64(), Value::Int64(i64::MAX)),
        (Schema::float32(), Value::Float32(1.5)),
        (Schema::float64(), Value::Float64(-2.25e100)),
        (Schema::string(), Value::from("héllo \"world\"")),
        (Schema::bytes(), Value::Bytes(vec![0, 1, 2, 255])),
        (Schema::array(Schema::int32()), Value::Array(vec![Value::Int32(1), Value::Int32(2)])),
        (
            Schema::map(Schema::string(), Schema::int64()),
            Value::Map(BTreeMap::from([(Value::from("a"), Value::Int64(1)), (Value::from("b"), Value::Int64(2))])),
        ),
        (
            Schema::map(Schema::int32(), Schema::string()),
            Value::Map(BTreeMap::from([(Value::Int32(1), Value::from("one")), (Value::Int32(2), Value::from("two"))])),
        ),
        (person_schema, Value::Struct(person)),
        (logical::decimal_schema(2), Decimal::new(-12345, 2).to_value()),
        (logical::date_schema(), Value::Int32(19_000)),
        (logical::time_schema(), Value::Int32(3_600_000)),
        (logical::timestamp_schema(), Value::Int64(1_700_000_000_123)),
        (Schema::string().optional(), Value::Null),
        (Schema::int32().optional().with_default(42i32), Value::Int32(7)),
    ]
}

#[test]
fn json_with_schemas_round_trips_every_type_and_its_schema() {
    for (schema, value) in typed_cases() {
        let back = round_trip(&json(true), Some(&schema), &value);
        assert_eq!(back.value, value, "value of {schema:?}");
        assert_eq!(back.schema.as_ref(), Some(&schema), "schema of {value:?}");
    }
}

#[test]
fn json_with_numeric_decimals_round_trips() {
    let converter = JsonConverter { decimal_format: DecimalFormat::Numeric, ..JsonConverter::default() };
    let schema = logical::decimal_schema(3);
    let value = Decimal::new(1_234_567, 3).to_value();
    let bytes = converter.encode("t", Some(&schema), &value).unwrap().unwrap();
    assert!(String::from_utf8_lossy(&bytes).contains("\"payload\":1234.567"), "{}", String::from_utf8_lossy(&bytes));
    assert_eq!(converter.decode("t", Some(&bytes)).unwrap().value, value);
}

#[test]
fn json_without_schemas_round_trips_json_native_types() {
    let cases = [
        Value::Null,
        Value::Bool(false),
        Value::Int64(-5),
        Value::Float64(0.5),
        Value::from("text"),
        Value::Array(vec![Value::Int64(1), Value::from("x")]),
        Value::Map(BTreeMap::from([(Value::from("k"), Value::Array(vec![Value::Bool(true)]))])),
    ];
    for value in cases {
        let back = round_trip(&json(false), None, &value);
        assert_eq!((back.value, back.schema), (value, None));
    }
}

#[test]
fn json_without_schemas_writes_narrow_types_as_json_numbers() {
    for (value, text) in [(Value::Int8(3), "3"), (Value::Int32(-9), "-9"), (Value::Float32(0.5), "0.5")] {
        let bytes = json(false).encode("t", None, &value).unwrap().unwrap();
        assert_eq!(String::from_utf8(bytes).unwrap(), text);
    }
    let bytes = json(false).encode("t", None, &Value::Bytes(b"hi".to_vec())).unwrap().unwrap();
    assert_eq!(String::from_utf8(bytes).unwrap(), "\"aGk=\"");
}

#[test]
fn json_reads_kafka_envelopes_byte_for_byte() {
    let kafka = br#"{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":true,"field":"name"}],"optional":false,"name":"row"},"payload":{"id":1,"name":null}}"#;
    let read = json(true).decode("t", Some(kafka)).unwrap();
    assert_eq!(read.value.field("id"), Some(&Value::Int32(1)));
    assert_eq!(read.value.field("name"), Some(&Value::Null));
    assert_eq!(read.schema.unwrap().name.as_deref(), Some("row"));
}

#[test]
fn json_explains_plain_json_sent_to_an_envelope_reader() {
    let err = json(true).decode("t", Some(br#"{"id": 1}"#)).unwrap_err();
    assert!(err.to_string().contains("set schemas.enable=false"), "{err}");
    let err = json(true).decode("t", Some(b"not json")).unwrap_err();
    assert!(err.to_string().contains("not valid JSON"), "{err}");
}

#[test]
fn json_rejects_values_that_do_not_fit_their_schema() {
    let envelope =
        br#"{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false},"payload":{"id":"x"}}"#;
    let err = json(true).decode("t", Some(envelope)).unwrap_err();
    assert_eq!(err.to_string(), "id: expected int32, got JSON string");
    let err = json(true).encode("t", Some(&Schema::int8()), &Value::from("x")).unwrap_err();
    assert_eq!(err.to_string(), "expected int8, got string");
}

#[test]
fn tombstones_are_null_bytes() {
    for converter in [&json(true) as &dyn Converter, &json(false), &StringConverter::default(), &ByteArrayConverter::default()] {
        assert_eq!(converter.encode("t", None, &Value::Null).unwrap(), None);
        assert_eq!(converter.decode("t", None).unwrap().value, Value::Null);
    }
}

#[test]
fn string_converter_round_trips_text_and_writes_other_values_as_text() {
    let back = round_trip(&StringConverter::default(), None, &Value::from("ünïcode line"));
    assert_eq!(back.value, Value::from("ünïcode line"));
    assert_eq!(back.schema, Some(Schema::string().optional()));
    let bytes = StringConverter::default().encode("t", None, &Value::Int64(42)).unwrap();
    assert_eq!(bytes.as_deref(), Some(&b"42"[..]));
    for value in [Value::Int64(i64::MIN), Value::Int32(-7), Value::Int16(300), Value::Float64(1.5), Value::Bool(true)] {
        let bytes = StringConverter::default().encode_owned("t", None, value.clone()).unwrap();
        assert_eq!(bytes, Some(value.to_string().into_bytes()), "{value:?} is written as its text");
    }
    assert!(StringConverter::default().decode("t", Some(&[0xff, 0xfe])).is_err());
}

#[test]
fn byte_array_converter_passes_bytes_through() {
    let data = vec![0u8, 159, 146, 150];
    let back = round_trip(&ByteArrayConverter::default(), None, &Value::Bytes(data.clone()));
    assert_eq!(back.value, Value::Bytes(data));
    let err = ByteArrayConverter::default().encode("t", None, &Value::from("text")).unwrap_err();
    assert!(err.to_string().contains("needs bytes"), "{err}");
}
