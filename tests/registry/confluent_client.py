"""Confluent's own Python client (confluent-kafka, from PyPI) against the worker's schema
registry: registration, lookups, compatibility, deletes, and Avro and JSON Schema
serializers that register their schemas and deserializers that find them again by the id in
the message. Run by .ci/registry with the registry's two URLs: the root of
--schema-registry-addr and /registry on the REST listener."""

import json
import sys

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

ORDER_V1 = {"type": "record", "name": "Order", "namespace": "shop", "fields": [{"name": "id", "type": "long"}]}
ORDER_V2 = {
    "type": "record",
    "name": "Order",
    "namespace": "shop",
    "fields": [{"name": "id", "type": "long"}, {"name": "note", "type": ["null", "string"], "default": None}],
}
BREAKING = {"type": "record", "name": "Order", "namespace": "shop", "fields": [{"name": "id", "type": "string"}]}


def expect(condition, what):
    if not condition:
        raise AssertionError(what)
    print("ok:", what)


def refused(call, code):
    try:
        call()
    except SchemaRegistryError as error:
        return error.error_code == code
    return False


def main(root_url, prefixed_url):
    root = SchemaRegistryClient({"url": root_url})
    prefixed = SchemaRegistryClient({"url": prefixed_url})

    first = root.register_schema("orders-value", Schema(json.dumps(ORDER_V1), "AVRO"))
    expect(prefixed.register_schema("orders-value", Schema(json.dumps(ORDER_V1), "AVRO")) == first, "registering again gives the same id")
    second = prefixed.register_schema("orders-value", Schema(json.dumps(ORDER_V2), "AVRO"))
    expect(second != first, "an evolution gets a new id")
    latest = root.get_latest_version("orders-value")
    expect((latest.version, latest.schema_id) == (2, second), "latest is version 2")
    expect(json.loads(prefixed.get_schema(first).schema_str) == ORDER_V1, "a schema is found by id")
    found = root.lookup_schema("orders-value", Schema(json.dumps(ORDER_V1), "AVRO"))
    expect(found.version == 1, "lookup finds version 1")
    expect(root.get_subjects() == ["orders-value"], "one subject")
    expect(root.get_versions("orders-value") == [1, 2], "two versions")
    expect(not root.test_compatibility("orders-value", Schema(json.dumps(BREAKING), "AVRO")), "a type change is incompatible")
    expect(refused(lambda: root.register_schema("orders-value", Schema(json.dumps(BREAKING), "AVRO")), 409), "and refused with 409")
    root.set_compatibility("orders-value", "NONE")
    expect(root.get_compatibility("orders-value") == "NONE", "the subject's level reads back")
    expect(refused(lambda: root.get_version("orders-value", 9), 40402), "a missing version is 40402")
    expect(refused(lambda: root.get_schema(424242), 40403), "a missing id is 40403")

    # Serializers register their schemas (auto.register.schemas); deserializers read the id
    # from the message and fetch the schema from the registry.
    order = {"id": 7, "note": "gift"}
    avro_out = AvroSerializer(prefixed, json.dumps(ORDER_V2))
    context = SerializationContext("payments", MessageField.VALUE)
    body = avro_out(order, context)
    expect(body[0] == 0 and int.from_bytes(body[1:5], "big") == prefixed.get_latest_version("payments-value").schema_id, "Avro wire format: magic byte and schema id")
    expect(AvroDeserializer(root)(body, context) == order, "an Avro message decodes through the registry")

    event_schema = {
        "type": "object",
        "title": "Event",
        "properties": {"kind": {"type": "string"}, "count": {"type": "integer"}},
        "additionalProperties": False,
    }
    json_out = JSONSerializer(json.dumps(event_schema), root)
    context = SerializationContext("events", MessageField.VALUE)
    body = json_out({"kind": "click", "count": 3}, context)
    expect(root.get_latest_version("events-value").schema.schema_type == "JSON", "the JSON serializer registered a JSON schema")
    expect(JSONDeserializer(None, schema_registry_client=prefixed)(body, context) == {"kind": "click", "count": 3}, "a JSON Schema message decodes through the registry")

    expect(root.delete_subject("payments-value") == [1], "a soft delete lists the versions")
    expect(root.delete_subject("payments-value", permanent=True) == [1], "then a permanent one")
    expect("payments-value" not in prefixed.get_subjects(), "the subject is gone")
    print("confluent-kafka", __import__("confluent_kafka").version(), "passed against", root_url, "and", prefixed_url)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
