// Whole statements: SELECT, FROM, WHERE, CASE, literals, JSON extensions, nested queries,
// SET, binary payloads. Each case is a documented example: input, SQL and expected output
// copied from the page cited above its block.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { compileRule } from '../../src/rules/index.js';
import { json, message, run } from './helpers.js';

describe("the issue's end-to-end rule", () => {
  const rule = compileRule("SELECT temperature, topic(2) AS id FROM 'sensors/+/data' WHERE temperature > 50");
  test('exposes the topic filter', () => assert.equal(rule.topicFilter, 'sensors/+/data'));
  test('60 at sensors/7/data', () => {
    assert.deepEqual(rule.evaluate(message({ temperature: 60 }, { topic: 'sensors/7/data' })), { kind: 'json', value: { temperature: 60, id: '7' } });
  });
  test('40 at sensors/7/data is filtered out', () => {
    assert.equal(rule.evaluate(message({ temperature: 40 }, { topic: 'sensors/7/data' })), null);
  });
  test('a missing temperature is Undefined, so WHERE is not true', () => {
    assert.equal(rule.evaluate(message({ humidity: 3 }, { topic: 'sensors/7/data' })), null);
  });
  test('a non-JSON payload has no fields', () => {
    assert.equal(rule.evaluate(message(Buffer.from('temperature=60'), { topic: 'sensors/7/data' })), null);
  });
});

// https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-reference.html
describe('iot-sql-reference.md', () => {
  test('SELECT color AS rgb FROM topic/subtopic WHERE temperature > 50', () => {
    assert.deepEqual(json("SELECT color AS rgb FROM 'topic/subtopic' WHERE temperature > 50", { color: 'red', temperature: 100 }), { rgb: 'red' });
  });
});

// https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-select.html
describe('iot-sql-select.md', () => {
  const payload = { color: 'red', temperature: 50 };
  const cases: Array<[string, unknown, unknown?]> = [
    ["SELECT * FROM 'topic/subtopic'", { color: 'red', temperature: 50 }],
    ["SELECT color FROM 'topic/subtopic'", { color: 'red' }],
    ["SELECT color AS my_color FROM 'topic/subtopic'", { my_color: 'red' }],
    ["SELECT color as my_color, temperature as fahrenheit FROM 'topic/subtopic'", { my_color: 'red', fahrenheit: 50 }],
    ["SELECT *, 15 as speed FROM 'topic/subtopic'", { color: 'red', temperature: 50, speed: 15 }],
    ["SELECT VALUE color FROM 'topic/subtopic'", 'red'],
    ["SELECT color.red as red_value FROM 'topic/subtopic'", { red_value: 255 }, { color: { red: 255, green: 0, blue: 0 }, temperature: 50 }],
    ["SELECT (temperature - 32) * 5 / 9 AS celsius, upper(color) as my_color FROM 'topic/subtopic'", { celsius: 10, my_color: 'RED' }],
  ];
  for (const [sql, expected, p] of cases) test(sql, () => assert.deepEqual(json(sql, p ?? payload), expected));
  test('SELECT VALUE of an array outputs it as the top-level value (2016-03-23)', () => {
    assert.deepEqual(json("SELECT VALUE [color, temperature] FROM 't'", payload), ['red', 50]);
    assert.deepEqual(json("SELECT VALUE arr FROM 't'", { arr: [1, 2] }), [1, 2]);
  });
});

// https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-from.html
describe('iot-sql-from.md', () => {
  test('the FROM clause is the rule topic filter', () => {
    assert.equal(compileRule("SELECT temperature AS t FROM 'topic/subtopic'").topicFilter, 'topic/subtopic');
    assert.equal(compileRule("SELECT temperature AS t FROM 'topic/#'").topicFilter, 'topic/#');
    assert.equal(compileRule("SELECT temperature AS t FROM 'topic/+'").topicFilter, 'topic/+');
    assert.deepEqual(json("SELECT temperature AS t FROM 'topic/+'", { temperature: 50 }), { t: 50 });
  });
});

// https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-where.html
describe('iot-sql-where.md', () => {
  test('temperature > 50 AND color <> red on {"color":"red", "temperature":40}: no outgoing payload', () => {
    assert.equal(run("SELECT color AS my_color FROM 'topic/subtopic' WHERE temperature > 50 AND color <> 'red'", { color: 'red', temperature: 40 }), null);
  });
  test('WHERE is evaluated before SELECT and cannot see AS aliases', () => {
    assert.equal(run("SELECT temperature AS t FROM 'x' WHERE t > 1", { temperature: 5 }), null);
  });
  test('a WHERE that is not Boolean does not pass', () => {
    assert.equal(run("SELECT * FROM 'x' WHERE 1", {}), null);
    assert.equal(run("SELECT * FROM 'x' WHERE missing", {}), null);
    assert.deepEqual(json("SELECT * FROM 'x' WHERE flag", { flag: 'TRUE' }), { flag: 'TRUE' });
  });
  test('NOT of an Undefined comparison is still Undefined: no actions', () => {
    assert.equal(run("SELECT * FROM 'x' WHERE NOT (b = 'x')", { a: 1 }), null);
  });
});

// https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-case.html
describe('iot-sql-case.md', () => {
  const sql = `SELECT CASE color
        WHEN 'green' THEN 'go'
        WHEN 'yellow' THEN 'caution'
        WHEN 'red' THEN 'stop'
        ELSE 'you are not at a stop light' END as instructions
    FROM 'topic/subtopic'`;
  test('{"color":"yellow"} gives caution', () => assert.deepEqual(json(sql, { color: 'yellow' }), { instructions: 'caution' }));
  test('no match uses ELSE', () => assert.deepEqual(json(sql, { color: 'blue' }), { instructions: 'you are not at a stop light' }));
  test('the first matching WHEN wins', () => {
    assert.deepEqual(json("SELECT CASE 1 WHEN 1 THEN 'a' WHEN 1 THEN 'b' END AS r FROM 't'"), { r: 'a' });
  });
  test('no match and no ELSE is Undefined', () => {
    assert.deepEqual(json("SELECT CASE color WHEN 'green' THEN 'go' END AS r FROM 't'", { color: 'red' }), {});
  });
  test('if v is Undefined, the result is Undefined (even with ELSE)', () => {
    assert.deepEqual(json(sql, {}), {});
  });
  test('searched CASE: the first true WHEN condition', () => {
    const s = "SELECT CASE WHEN t > 30 THEN 'hot' WHEN t > 10 THEN 'mild' ELSE 'cold' END AS r FROM 'x'";
    assert.deepEqual(json(s, { t: 35 }), { r: 'hot' });
    assert.deepEqual(json(s, { t: 20 }), { r: 'mild' });
    assert.deepEqual(json(s, {}), { r: 'cold' }); // Undefined conditions are not true
  });
});

// https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-literals.html
describe('iot-sql-literals.md', () => {
  test('object literal', () => {
    assert.deepEqual(json("SELECT {'latitude': get(lat_long, 0),'longitude':get(lat_long, 1)} as lat_long FROM 'topic/subtopic'", { lat_long: [47.606, -122.332] }), {
      lat_long: { latitude: 47.606, longitude: -122.332 },
    });
  });
  test('array literal', () => {
    assert.deepEqual(json("SELECT [lat,long] as lat_long FROM 'topic/subtopic'", { lat: 47.606, long: -122.332 }), { lat_long: [47.606, -122.332] });
  });
  test('literals need SQL version 2016-03-23', () => {
    assert.throws(() => compileRule("SELECT [1] AS a FROM 't'", { sqlVersion: '2015-10-08' }), { code: 'SQL_VERSION', line: 1, column: 8 });
  });
  test('Undefined members are left out of literals', () => {
    assert.deepEqual(json("SELECT {'a': a, 'b': b} AS o, [a, b] AS l FROM 't'", { a: 1 }), { o: { a: 1 }, l: [1] });
  });
});

// https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-json.html
describe('iot-sql-json.md', () => {
  test('SELECT foo.bar AS bar.baz builds a nested object', () => {
    assert.deepEqual(json("SELECT foo.bar AS bar.baz FROM 'topic/subtopic'", { foo: { bar: 'RED', bar1: 'GREEN', bar2: 'BLUE' } }), { bar: { baz: 'RED' } });
  });
  test('get() for property names with hyphens or digits', () => {
    const payload = { mydata: { item2: { '0': { 'my-key': 'myValue' } } } };
    assert.deepEqual(json(`SELECT * from 'iot/rules' WHERE get(get(get(mydata,"item2"),"0"),"my-key") = "myValue"`, payload), payload);
  });
  test('dotted aliases merge (AWS rule validation suite, undefined-function-check-payload.json)', () => {
    // aws-iot-builder-tools/validation-tool-for-aws-iot-rules: expected output recorded from AWS.
    const payload = { state: { command: 'DOOR_OPEN', debug: 'FALSE' }, version: '3.1' };
    const sql =
      "SELECT state.debug AS state.debug, state.command AS state.command, version FROM 'test/test6' WHERE IsUndefined(state.debug) = False OR IsUndefined(state.command) = False";
    assert.deepEqual(json(sql, payload), { state: { debug: 'FALSE', command: 'DOOR_OPEN' }, version: '3.1' });
  });
  test('array indexing a.b[0].c', () => {
    assert.deepEqual(json("SELECT a.b[1].c AS c, a.b[5].c AS d FROM 't'", { a: { b: [{ c: 1 }, { c: 2 }] } }), { c: 2 });
  });
  test('* followed by a path (AWS rule validation suite, select-value-test-data.json)', () => {
    const payload = { messages: [{ message: 'a' }, { message: 'b' }] };
    assert.deepEqual(json("SELECT VALUE *.messages FROM 'test/test2'", payload), [{ message: 'a' }, { message: 'b' }]);
  });
  test('field names are case-sensitive; a missing field is left out', () => {
    assert.deepEqual(json("SELECT Color, color, nothing.deeper FROM 't'", { color: 'red' }), { color: 'red' });
  });
  test('an item without AS and without a name is keyed by position', () => {
    assert.deepEqual(json("SELECT color, topic(1), 1 + 1 FROM 't'", { color: 'red' }, { topic: 'x/y' }), { color: 'red', _2: 'x', _3: 2 });
  });
});

// https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-nested-queries.html
describe('iot-sql-nested-queries.md', () => {
  const payload = {
    e: [
      { n: 'temperature', u: 'Cel', t: 1234, v: 22.5 },
      { n: 'light', u: 'lm', t: 1235, v: 135 },
      { n: 'acidity', u: 'pH', t: 1235, v: 7 },
    ],
  };
  test('SELECT (SELECT VALUE n FROM e) as sensors', () => {
    assert.deepEqual(json("SELECT (SELECT VALUE n FROM e) as sensors FROM 'my/topic'", payload), { sensors: ['temperature', 'light', 'acidity'] });
  });
  test("SELECT (SELECT v FROM e WHERE n = 'temperature') as temperature", () => {
    assert.deepEqual(json("SELECT (SELECT v FROM e WHERE n = 'temperature') as temperature FROM 'my/topic'", payload), { temperature: [{ v: 22.5 }] });
  });
  test('flattened with get(..., 0).v', () => {
    assert.deepEqual(json("SELECT get((SELECT v FROM e WHERE n = 'temperature'), 0).v as temperature FROM 'topic'", payload), { temperature: 22.5 });
  });
  test('FROM * treats the payload as one row (AWS rule validation suite, include-topic-and-transform.json)', () => {
    assert.deepEqual(json("SELECT get((SELECT *, topic() as topic FROM *),0) as data FROM 'test/test1'", { foo: 'bar' }, { topic: 'test/test1' }), {
      data: { foo: 'bar', topic: 'test/test1' },
    });
  });
  test('a nested query over a missing field is Undefined', () => {
    assert.deepEqual(json("SELECT (SELECT VALUE n FROM nothing) AS x FROM 't'", payload), {});
  });
  test('nested queries need SQL version 2016-03-23', () => {
    assert.throws(() => compileRule("SELECT (SELECT VALUE n FROM e) AS x FROM 't'", { sqlVersion: '2015-10-08' }), { code: 'SQL_VERSION' });
  });
});

// https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-set.html
describe('iot-sql-set.md', () => {
  test('access members of an object variable', () => {
    const payload = { device1: { deviceId: 'weather_sensor', deviceData: { sensors: { temp_fahrenheit: 75, humidity: 60 }, location: [47.606, -122.332] } } };
    const sql = `SET @device_sensor_data = device1.deviceData.sensors
SELECT @device_sensor_data.temp_fahrenheit AS temp_fahrenheit, @device_sensor_data.humidity as humidity, device1.deviceId as deviceId FROM 'device/data'`;
    assert.deepEqual(json(sql, payload), { temp_fahrenheit: 75, humidity: 60, deviceId: 'weather_sensor' });
  });
  test('basic usage: the computed variable is selected (the page shows 23.89 for 215 / 9)', () => {
    // The operator table makes Int / Int an Int, which this engine follows (see the report);
    // with a Decimal in the expression the result is the Decimal the page rounds to 23.89.
    const sql = `SET @temp_celsius = (temp_fahrenheit - 32) * 5 / 9.0
SELECT @temp_celsius AS celsius, humidity FROM 'device/data'`;
    const out = json(sql, { temp_fahrenheit: 75.5, humidity: 60 }) as { celsius: number; humidity: number };
    assert.equal(out.humidity, 60);
    assert.equal(out.celsius.toFixed(2), '24.17');
  });
  test('multiple variables, used in SELECT and WHERE', () => {
    const sql = `SET @user_data = get_user_properties('name'), @threshold = 50
SELECT @user_data, temp_fahrenheit FROM 'sensors/+' WHERE temp_fahrenheit > @threshold`;
    const mqtt = { qos: 0 as const, retain: false, userProperties: [['name', 'kitchen'] as [string, string]] };
    assert.deepEqual(json(sql, { temp_fahrenheit: 60 }, { mqtt }), { user_data: ['kitchen'], temp_fahrenheit: 60 });
    assert.equal(run(sql, { temp_fahrenheit: 40 }, { mqtt }), null);
  });
  test('non-JSON payload: SET @encoded_payload = encode(*, base64)', () => {
    const bytes = Buffer.from([1, 2, 3]);
    assert.deepEqual(json("SET @encoded_payload = encode(*, 'base64') SELECT @encoded_payload AS raw_data FROM 'device/binary'", bytes), { raw_data: 'AQID' });
  });
  test('variables can use earlier variables, and are in nested queries', () => {
    const sql = "SET @a = 2, @b = @a * 3 SELECT @b AS b, (SELECT VALUE x * @a FROM xs AS x) AS doubled FROM 't'";
    assert.deepEqual(json(sql, { xs: [1, 2] }), { b: 6, doubled: [2, 4] });
  });
  test('the evaluation output carries the variables for templates', () => {
    const out = run("SET @c = t - 1 SELECT t FROM 'x'", { t: 5 });
    assert.deepEqual(out, { kind: 'json', value: { t: 5 }, variables: { c: 4 } });
  });
});

// https://docs.aws.amazon.com/iot/latest/developerguide/binary-payloads.html
describe('binary-payloads.md', () => {
  const bytes = Buffer.from([0x00, 0xff, 0x10, 0x7b]);
  test('SELECT * yields the raw bytes', () => {
    assert.deepEqual(run("SELECT * FROM 'topic/subtopic'", bytes), { kind: 'binary', value: bytes });
  });
  test('SELECT * with a WHERE on functions only', () => {
    const ts = 12 * 1000;
    assert.deepEqual(run("SELECT * FROM 'topic/subtopic' WHERE timestamp() % 12 = 0", bytes, { timestamp: ts }), { kind: 'binary', value: bytes });
    assert.equal(run("SELECT * FROM 'topic/subtopic' WHERE timestamp() % 12 = 0", bytes, { timestamp: ts + 1 }), null);
  });
  test('SELECT encode(*, base64) AS data, timestamp() AS ts', () => {
    assert.deepEqual(json("SELECT encode(*, 'base64') AS data, timestamp() AS ts FROM 'topic/subtopic'", bytes, { timestamp: 7 }), {
      data: bytes.toString('base64'),
      ts: 7,
    });
  });
  test('a WHERE on a JSON name does not match a binary payload (the field is Undefined)', () => {
    assert.equal(run("SELECT * FROM 'topic/subtopic' WHERE device_type = 'thermostat'", bytes), null);
  });
  test('an empty payload can have data added: SELECT *, principal() as principal, timestamp() as time', () => {
    assert.deepEqual(json("SELECT *, principal() as principal, timestamp() as time FROM 'topic/subtopic'", Buffer.alloc(0), { principal: 'p1', timestamp: 3 }), {
      principal: 'p1',
      time: 3,
    });
  });
  test('SELECT VALUE * of a binary payload is binary', () => {
    assert.deepEqual(run("SELECT VALUE * FROM 't'", bytes), { kind: 'binary', value: bytes });
  });
});

// AWS rule validation suite (aws-iot-builder-tools/validation-tool-for-aws-iot-rules), payload-enrichment-with-functions.json
describe('payload enrichment with topic levels', () => {
  test('SELECT *, topic(1) as deviceId, topic(2) as actuatorId, topic(3) as cmd', () => {
    const sql = "SELECT *, topic(1) as deviceId, topic(2) as actuatorId, topic(3) as cmd FROM '+/+/+/req'";
    assert.deepEqual(json(sql, { values: [50, 100] }, { topic: '123/ACT_123/slider/req' }), { values: [50, 100], deviceId: '123', actuatorId: 'ACT_123', cmd: 'slider' });
  });
});

describe('evaluation hygiene', () => {
  test('a rule is reusable across messages and never changes its input', () => {
    const rule = compileRule("SELECT *, 1 AS state.extra, a AS b FROM 't'");
    const payload = { state: { x: 1 }, a: 2 };
    const input = message(payload);
    const first = rule.evaluate(input);
    const second = rule.evaluate(input);
    assert.deepEqual(first, { kind: 'json', value: { state: { x: 1, extra: 1 }, a: 2, b: 2 } });
    assert.deepEqual(second, first);
    assert.equal(input.payload.toString(), JSON.stringify(payload));
  });
  test('__proto__ and other prototype names are plain keys', () => {
    const raw = Buffer.from('{"__proto__": {"x": 1}, "constructor": 5}');
    assert.deepEqual(json("SELECT __proto__.x AS x, constructor, toString FROM 't'", raw), { x: 1, constructor: 5 });
  });
  test('JSON payloads that are not objects: SELECT * returns them, fields are Undefined', () => {
    assert.deepEqual(json("SELECT * FROM 't'", [1, 2]), [1, 2]);
    assert.deepEqual(json("SELECT *, 1 AS one FROM 't'", 'text'), { one: 1 });
    assert.deepEqual(json("SELECT a FROM 't'", 5), {});
  });
});
