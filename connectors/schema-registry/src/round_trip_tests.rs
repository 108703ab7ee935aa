//! Every Connect type and logical type through each format's schema text, encoding and
//! decoding, without a registry: what is read back equals what was written, schema included.

use std::collections::BTreeMap;
use std::sync::Arc;

use connect_sdk::data::logical::{self, Decimal};
use connect_sdk::data::{Schema, Struct, Value};

use crate::avro::Avro;
use crate::format::Format;
use crate::json_schema::JsonDocuments;

/// A struct using every type: primitives, logical types, optional fields with and without
/// defaults, a default on a required field, arrays, maps with string and other keys, and a
/// nested struct.
fn everything() -> (Schema, Value) {
    let address = Schema::structure()
        .named("shop.Address")
        .with_doc("Where it goes")
        .field("city", Schema::string())
        .field("zip", Schema::int32().optional());
    let schema = Schema::structure()
        .named("shop.Order")
        .with_version(3)
        .field("i8", Schema::int8())
        .field("i16", Schema::int16())
        .field("i32", Schema::int32())
        .field("i64", Schema::int64())
        .field("f32", Schema::float32())
        .field("f64", Schema::float64())
        .field("flag", Schema::boolean())
        .field("text", Schema::string().with_doc("free text"))
        .field("raw", Schema::bytes())
        .field("price", logical::decimal_schema(2))
        .field("day", logical::date_schema())
        .field("at", logical::time_schema())
        .field("when", logical::timestamp_schema())
        .field("note", Schema::string().optional())
        .field("retries", Schema::int32().with_default(3))
        .field("unit", Schema::string().optional().with_default("kg"))
        .field("tags", Schema::array(Schema::string()))
        .field("counts", Schema::map(Schema::string(), Schema::int64()))
        .field("by_id", Schema::map(Schema::int32(), Schema::string().optional()))
        .field("ship_to", address.clone())
        .field("bill_to", address.clone().optional());
    // A struct value carries its field's schema (optional or not), as readers build them.
    let address_value = |schema: &Schema, city: &str, zip: Option<i32>| {
        Value::Struct(
            Struct::from_values(Arc::new(schema.clone()), vec![Value::from(city), zip.map_or(Value::Null, Value::Int32)]).unwrap(),
        )
    };
    let values = vec![
        Value::Int8(-8),
        Value::Int16(1600),
        Value::Int32(-32),
        Value::Int64(1 << 40),
        Value::Float32(1.5),
        Value::Float64(-2.25),
        Value::Bool(true),
        Value::from("héllo"),
        Value::Bytes(vec![0, 1, 255]),
        Decimal::new(-12_345, 2).to_value(),
        Value::Int32(19_000),
        Value::Int32(3_600_000),
        Value::Int64(1_700_000_000_123),
        Value::Null,
        Value::Int32(5),
        Value::from("t"),
        Value::Array(vec![Value::from("a"), Value::from("b")]),
        Value::Map(BTreeMap::from([(Value::from("x"), Value::Int64(1))])),
        Value::Map(BTreeMap::from([(Value::Int32(7), Value::from("seven")), (Value::Int32(8), Value::Null)])),
        address_value(&address, "Lyon", Some(69_000)),
        address_value(&address.clone().optional(), "Nice", None),
    ];
    let value = Value::Struct(Struct::from_values(Arc::new(schema.clone()), values).unwrap());
    (schema, value)
}

fn round_trip<F: Format>(schema: &Schema, value: &Value) -> (Schema, Value) {
    let text = F::schema_text(schema).unwrap();
    // Checked against the schema both ways: what the mapping writes is what its schema says.
    let payload = F::encode(&F::writer(&text, true).unwrap(), schema, value).unwrap();
    let read = F::decode(&F::reader(&text, true).unwrap(), &payload).unwrap();
    (read.schema.unwrap(), read.value)
}

#[test]
fn avro_reads_back_every_type_as_written() {
    let (schema, value) = everything();
    let (read_schema, read_value) = round_trip::<Avro>(&schema, &value);
    assert_eq!(read_schema, schema);
    assert_eq!(read_value, value);
}

#[test]
fn json_schema_reads_back_every_type_as_written() {
    let (schema, value) = everything();
    let (read_schema, read_value) = round_trip::<JsonDocuments>(&schema, &value);
    assert_eq!(read_schema, schema);
    assert_eq!(read_value, value);
}

#[test]
fn primitives_and_optional_primitives_alone_round_trip() {
    let cases = [
        (Schema::string(), Value::from("key-1")),
        (Schema::int64().optional(), Value::Int64(9)),
        (Schema::bytes(), Value::Bytes(vec![1, 2])),
        (logical::decimal_schema(4), Decimal::new(123_456_789, 4).to_value()),
        (Schema::array(Schema::int16()), Value::Array(vec![Value::Int16(1)])),
    ];
    for (schema, value) in cases {
        assert_eq!(round_trip::<Avro>(&schema, &value), (schema.clone(), value.clone()), "avro {schema:?}");
        assert_eq!(round_trip::<JsonDocuments>(&schema, &value), (schema.clone(), value.clone()), "json {schema:?}");
    }
}

#[test]
fn the_avro_schema_is_what_confluent_writes() {
    let schema = Schema::structure().named("shop.Order").field("id", Schema::int64()).field("note", Schema::string().optional());
    let avro = crate::avro_data::avro_schema(&schema).unwrap();
    assert_eq!(
        avro,
        serde_json::json!({"type": "record", "name": "Order", "namespace": "shop", "connect.name": "shop.Order",
            "fields": [{"name": "id", "type": "long"}, {"name": "note", "type": ["null", "string"], "default": null}]})
    );
    let bad = Schema::structure().field("order-id", Schema::int64());
    assert!(crate::avro_data::avro_schema(&bad).unwrap_err().to_string().contains("order-id"));
    let json = crate::json_data::json_schema(&schema).unwrap();
    assert_eq!(json["additionalProperties"], false);
    assert_eq!(json["required"], serde_json::json!(["id"]));
}

#[test]
fn json_documents_that_break_their_schema_are_refused_when_checked() {
    let schema = Schema::structure().named("shop.Order").field("id", Schema::int64());
    let text = JsonDocuments::schema_text(&schema).unwrap();
    let wrong = br#"{"id": "seven", "extra": 1}"#;
    let error = JsonDocuments::decode(&JsonDocuments::reader(&text, true).unwrap(), wrong).unwrap_err().to_string();
    assert!(error.contains("breaks its JSON Schema") && error.contains("/id"), "{error}");
    // Unchecked (the default), the document is read as far as it goes: the type is wrong.
    assert!(JsonDocuments::decode(&JsonDocuments::reader(&text, false).unwrap(), wrong).is_err());
}
