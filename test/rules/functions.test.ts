// Every function against the examples and argument-type tables of the AWS IoT SQL reference.
// Expected values are copied from the documentation, not from this implementation's output.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { compileTemplate } from '../../src/rules/index.js';
import { json, message, NOW, UNDEFINED, value, type Case } from './helpers.js';

const U = UNDEFINED;

function rows(name: string, cases: readonly Case[], extra = {}): void {
  describe(name, () => {
    for (const [expr, expected, payload] of cases) {
      test(`${expr}${payload === undefined ? '' : ` on ${JSON.stringify(payload)}`}`, () => {
        assert.deepEqual(value(expr, payload ?? {}, extra), expected);
      });
    }
  });
}

// https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-functions.html (current page),
// section by section; "table" rows come from each function's argument-type table.
describe('iot-sql-functions.md', () => {
  rows('abs', [
    ['abs(-5)', 5],
    ['abs(-5.5)', 5.5], // table: Decimal -> Decimal
    ['abs("-5.123")', 5.123], // iot-sql-data-types.md: 'abs("-5.123")' is treated as 'abs(-5.123)'
    ['abs("x")', U], // table: String that cannot be converted -> Undefined
    ['abs(true)', U],
    ['abs([1])', U],
    ['abs({"a": 1})', U],
    ['abs(null)', U],
    ['abs(missing)', U],
  ]);

  rows('accountid', [['accountid()', '123456789012']], { accountId: '123456789012' });

  rows('acos, asin, atan, atan2', [
    ['acos(0)', 1.5707963267948966],
    ['asin(0)', 0],
    ['atan(0)', 0],
    ['atan2(1, 0)', 1.5707963267948966],
    ['acos(2)', U], // "Imaginary results are returned as Undefined"
    ['acos(true)', U],
    ['atan2("1", "0")', 1.5707963267948966], // table: strings convert
    ['atan2("a", 0)', U],
  ]);

  rows('bitand, bitor, bitxor', [
    ['bitand(13, 5)', 5],
    ['bitor(8, 5)', 13],
    ['bitxor(13, 5)', 8], // the docs' example is written `bitor(13, 5)` = 8 under bitxor
    ['bitand(13.7, "5")', 5], // table: Decimals and strings rounded down
    ['bitand(true, 1)', U],
  ]);

  rows('cast', [
    ['cast(true as Int)', 1],
    // Cast to decimal
    ['cast(3 AS Decimal)', 3],
    ['cast(1.5 AS Decimal)', 1.5],
    ['cast(true AS Decimal)', 1],
    ['cast(false AS Double)', 0],
    ['cast("-1.2" AS Decimal)', -1.2],
    ['cast("5E-12" AS Double)', 5e-12],
    ['cast("abc" AS Decimal)', U],
    ['cast([1] AS Decimal)', U],
    ['cast({"a": 1} AS Decimal)', U],
    ['cast(null AS Decimal)', U],
    ['cast(missing AS Decimal)', U],
    // Cast to int: "The source value, rounded down to the nearest Int"
    ['cast(7 AS Integer)', 7],
    ['cast(1.7 AS Int)', 1],
    ['cast(-1.5 AS Int)', -2],
    ['cast(false AS Int)', 0],
    ['cast("-1.2" AS Int)', -2],
    ['cast(null AS Int)', U],
    // Cast to Boolean
    ['cast(0 AS Boolean)', false],
    ['cast(3 AS Bool)', true],
    ['cast(0.5 AS Boolean)', true],
    ['cast(true AS Boolean)', true],
    ['cast("TRUE" AS Boolean)', true],
    ['cast("False" AS Bool)', false],
    ['cast("yes" AS Boolean)', U],
    ['cast([true] AS Boolean)', U],
    ['cast(null AS Boolean)', U],
    // Cast to string
    ['cast(5 AS String)', '5'],
    ['cast(1.5 AS Varchar)', '1.5'],
    ['cast(true AS Nvarchar)', 'true'],
    ['cast("x" AS Text)', 'x'],
    ['cast([1, "a", true, null] AS Ntext)', '[1,"a",true,null]'],
    ['cast({"k": "v", "n": 1} AS String)', '{"k":"v","n":1}'],
    ['cast(null AS String)', U],
    ['cast(missing AS String)', U],
  ]);

  rows('ceil and floor', [
    ['ceil(1.2)', 2],
    ['ceil(-1.2)', -1],
    ['ceil(4)', 4],
    ['ceil("1.2")', 2],
    ['ceil("x")', U],
    ['ceil(true)', U],
    ['floor(1.2)', 1],
    ['floor(-1.2)', -2],
    ['floor("-1.2")', -2],
    ['floor([1, 2, 3])', U],
  ]);

  rows('chr', [
    ['chr(65)', 'A'],
    ['chr(49)', '1'],
    ['chr(65.9)', 'A'], // Decimal rounded down
    ['chr("66")', 'B'],
    ['chr(300)', U], // not a valid ASCII value
    ['chr(true)', U],
  ]);

  rows('clientid', [['clientid()', '123456789012']], { clientId: '123456789012' });
  rows('clientid without MQTT', [['clientid()', 'n/a']]);

  rows('concat', [
    ['concat()', U],
    // The table says one argument "is returned unmodified" (the example beside it shows "1").
    ['concat(1)', 1],
    ['concat([1, 2, 3], 4)', [1, 2, 3, 4]],
    ['concat([1, 2, 3], "hello")', [1, 2, 3, 'hello']],
    ['concat("con", "cat")', 'concat'],
    ['concat(1, "hello")', '1hello'],
    ['concat("he","is","man")', 'heisman'],
    ['concat([1, 2, 3], "hello", [4, 5, 6])', [1, 2, 3, 'hello', 4, 5, 6]],
  ]);

  rows('cos, cosh, sin, sinh, tan, tanh, exp, ln, log', [
    ['cos(0)', 1],
    ['cosh(2.3)', 5.037220649268761],
    ['sin(0)', 0],
    ['sinh(2.3)', 4.936961805545957],
    ['tan(3)', -0.1425465430742778],
    ['tanh(2.3)', 0.9800963962661914],
    ['exp(1)', Math.E],
    ['ln(exp(1))', 1],
    ['log(100)', 2],
    ['sin(true)', U],
    ['log("x")', U],
  ]);

  describe('decode', () => {
    test('decodes base64 JSON into an addressable object (the docs example)', () => {
      const payload = { encoded_temp: 'eyAidGVtcGVyYXR1cmUiOiAzMyB9Cg==' };
      assert.deepEqual(json(`SELECT decode(encoded_temp,"base64").temperature AS temp from 'topic/subtopic'`, payload), { temp: 33 });
    });
    test('a decoded value that is not JSON is returned as a string', () => {
      assert.equal(value(`decode("aGVsbG8gd29ybGQ=", 'base64')`), 'hello world');
    });
    test('returns Null when the string cannot be decoded', () => {
      assert.equal(value(`decode("not base64!", 'base64')`), null);
      assert.equal(value(`decode("abcde", 'base64')`), null);
    });
    test("binary-payloads.md: decode(encode(*, 'base64'), 'base64') turns a JSON payload back into JSON", () => {
      assert.deepEqual(json(`SELECT decode(encode(*, 'base64'), 'base64') AS payload FROM 'topic'`, { a: [1, 2] }), { payload: { a: [1, 2] } });
    });
  });

  describe('encode', () => {
    test('encode(*) encodes the raw bytes of a non-JSON payload', () => {
      const bytes = Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00]);
      assert.deepEqual(json(`SELECT encode(*, 'base64') AS data FROM 'my_topic'`, bytes), { data: '3q2+7wA=' });
    });
    test('encode(*) encodes a JSON payload exactly as it was sent', () => {
      const bytes = Buffer.from('{ "a" : 1 }');
      assert.deepEqual(json(`SELECT encode(*, 'base64') AS data FROM 'my_topic'`, bytes), { data: bytes.toString('base64') });
    });
    test('an expression is converted to a String before it is encoded', () => {
      assert.equal(value(`encode(color, 'base64')`, { color: 'red' }), Buffer.from('red').toString('base64'));
      assert.equal(value(`encode(n, 'base64')`, { n: 12 }), Buffer.from('12').toString('base64'));
      assert.equal(value(`encode(missing, 'base64')`), U);
    });
  });

  rows('endswith and startswith', [
    ['endswith("cat","at")', true],
    ['endswith("cat","c")', false],
    ['endswith(123, 3)', true], // other values converted to strings
    ['endswith(null, "a")', U],
    ['endswith("a", missing)', U],
    ['startswith("ranger","ran")', true],
    ['startswith("ranger","er")', false],
    ['startswith(true, "tr")', true],
    ['startswith(missing, "a")', U],
  ]);

  rows('get', [
    ['get(["a", "b", "c"], 1)', 'b'],
    ['get({"a":"b"}, "a")', 'b'],
    ['get("abc", 0)', 'a'],
    ['get(["a", "b"], "1")', 'b'], // second argument converted to Int
    ['get(["a", "b"], 2)', U], // out of bounds
    ['get(["a", "b"], -1)', U],
    ['get("abc", 5)', U],
    ['get({"a":"b"}, 1)', U], // Object: String key, no conversion
    ['get({"a":"b"}, "z")', U],
    ['get(5, 0)', U],
  ]);

  describe('get_mqtt_property', () => {
    const mqtt = {
      qos: 1 as const,
      retain: false,
      contentType: 'application/json',
      responseTopic: 'replies/1',
      correlationData: Buffer.from('corr-1'),
      payloadFormatIndicator: 1,
    };
    const cases: Case[] = [
      ["get_mqtt_property('format_indicator')", 'UTF8_DATA'],
      ["get_mqtt_property('content_type')", 'application/json'],
      ["get_mqtt_property('response_topic')", 'replies/1'],
      ["get_mqtt_property('correlation_data')", Buffer.from('corr-1').toString('base64')],
      ["get_mqtt_property('some_invalid_name')", U],
    ];
    for (const [expr, expected] of cases) test(`${expr} when present`, () => assert.deepEqual(value(expr, {}, { mqtt }), expected));
    const absent: Case[] = [
      ["get_mqtt_property('format_indicator')", 'UNSPECIFIED_BYTES'],
      ["get_mqtt_property('content_type')", U],
      ["get_mqtt_property('response_topic')", U],
      ["get_mqtt_property('correlation_data')", U],
    ];
    for (const [expr, expected] of absent) test(`${expr} when absent`, () => assert.deepEqual(value(expr, {}, { mqtt: { qos: 0, retain: false } }), expected));
  });

  describe('get_user_properties', () => {
    const userProperties: Array<[string, string]> = [
      ['some key', 'some value'],
      ['a different key', 'a different value'],
      ['some key', 'value with duplicate key'],
    ];
    const cases: Case[] = [
      ["get_user_properties('some key')", ['some value', 'value with duplicate key']],
      ["get_user_properties('a different key')", ['a different value']],
      ['get_user_properties()', [{ 'some key': 'some value' }, { 'a different key': 'a different value' }, { 'some key': 'value with duplicate key' }]],
      ["get_user_properties('non-existent key')", U],
    ];
    for (const [expr, expected] of cases) test(expr, () => assert.deepEqual(value(expr, {}, { mqtt: { qos: 0, retain: false, userProperties } }), expected));
    test('a record of arrays is the same list', () => {
      const record = { 'some key': ['some value', 'value with duplicate key'], 'a different key': 'a different value' };
      assert.deepEqual(value("get_user_properties('some key')", {}, { mqtt: { qos: 0, retain: false, userProperties: record } }), [
        'some value',
        'value with duplicate key',
      ]);
    });
  });

  rows('hashing functions', [
    ['md5("hello")', '5d41402abc4b2a76b9719d911017c592'],
    ['sha256("hello")', '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'], // FIPS 180-4 SHA-256 of "hello"
    ['md5(missing)', U],
  ]);

  rows('indexof', [
    ['indexof("abcd", "bc")', 1],
    ['indexof(12345, 34)', 2], // non-strings use the standard string conversion
  ]);

  rows('isNull', [
    ['isNull(5)', false],
    ['isNull(Null)', true],
    ['isNull(1.5)', false],
    ['isNull(true)', false],
    ['isNull("s")', false],
    ['isNull([1])', false],
    ['isNull({"a": 1})', false],
    ['isNull(missing)', false],
  ]);

  rows('isUndefined', [
    ['isUndefined(5)', false],
    ['isUndefined(floor([1,2,3]))', true],
    ['isUndefined(1.5)', false],
    ['isUndefined(false)', false],
    ['isUndefined("")', false],
    ['isUndefined([])', false],
    ['isUndefined({})', false],
    ['isUndefined(null)', false],
    ['isUndefined(missing)', true],
  ]);

  rows('length and numbytes', [
    ['length("hi")', 2],
    ['length(false)', 5],
    ['length(null)', U],
    ['numbytes("hi")', 2],
    ['numbytes("€")', 3],
  ]);

  rows('lower and upper', [
    ['lower("HELLO")', 'hello'],
    ['lower(["HELLO"])', '["hello"]'],
    ['upper("hello")', 'HELLO'],
    ['upper(["hello"])', '["HELLO"]'],
    ['upper(missing)', U],
  ]);

  rows('lpad and rpad', [
    ['lpad("hello", 2)', '  hello'],
    ['lpad(1, 3)', '   1'],
    ['lpad("a", 1.9)', ' a'], // Decimal rounded down
    ['lpad("a", "2")', '  a'], // String converted to Decimal
    ['lpad("a", -5)', 'a'], // clamped to 0..1000
    ['length(lpad("a", 5000))', 1001],
    ['lpad("a", "x")', U],
    ['lpad("a", true)', U],
    ['rpad("hello", 2)', 'hello  '],
    ['rpad(1, 3)', '1   '],
  ]);

  rows('ltrim, rtrim, trim', [
    ['ltrim(" h i ")', 'h i '],
    ['rtrim(" h i ")', ' h i'],
    ['trim(" hi ")', 'hi'],
    ['trim(5)', '5'],
    ['ltrim(null)', U],
    ['trim(missing)', U],
  ]);

  rows('mod and remainder', [
    ['mod(8, 3)', 2],
    ['remainder(8, 3)', 2],
    ['mod(8.5, 3)', 2.5],
    ['mod("8", "3")', 2],
    ['mod("x", 3)', U],
    ['mod(true, 3)', U],
  ]);

  rows('nanvl', [
    ['nanvl(8, 3)', 8],
    ['nanvl(missing, 3)', 3],
    ['nanvl(null, 3)', 3],
    ['nanvl("s", 3)', 's'],
  ]);

  describe('newuuid', () => {
    test('returns a random 16-byte UUID', () => {
      const a = value('newuuid()');
      const b = value('newuuid()');
      assert.match(String(a), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      assert.notEqual(a, b);
    });
  });

  describe('parse_time', () => {
    test("the docs' S3 example: America/Belize", () => {
      assert.deepEqual(json(`SELECT parse_time("yyyy.MM.dd G 'at' HH:mm:ss z", 100000000, "America/Belize" ) as ts FROM 'A/B'`), {
        ts: '1970.01.01 AD at 21:46:40 CST',
      });
    });
    test('the same pattern with timestamp() and the default zone (UTC)', () => {
      const ts = Date.UTC(2017, 5, 9, 17, 19, 46);
      assert.deepEqual(json(`SELECT parse_time("yyyy.MM.dd G 'at' HH:mm:ss z", timestamp() ) as ts FROM 'A/B'`, {}, { timestamp: ts }), {
        ts: '2017.06.09 AD at 17:19:46 UTC',
      });
    });
    test("as a substitution template: key = \"${parse_time('yyyy', timestamp(), 'UTC')}\" gives 2017", () => {
      const t = compileTemplate("${parse_time('yyyy', timestamp(), 'UTC')}");
      assert.equal(t.render(message({}, { timestamp: Date.UTC(2017, 5, 9) })), '2017');
    });
    test('more Joda letters', () => {
      const ts = Date.UTC(2021, 0, 3, 13, 5, 9, 42); // a Sunday
      const cases: Array<[string, string]> = [
        ['yy-M-d', '21-1-3'],
        ['MMM MMMM', 'Jan January'],
        ['EEE EEEE e', 'Sun Sunday 7'],
        ['h:mm a', '1:05 PM'],
        ['k K', '13 1'],
        ['D', '3'],
        ['ss.SSS', '09.042'],
        ['Z ZZ ZZZ', '+0000 +00:00 UTC'],
        ["'quoted' ''", "quoted '"],
        ['xxxx-ww', '2020-53'],
      ];
      for (const [pattern, expected] of cases) {
        assert.equal(value(`parse_time('${pattern.replaceAll("'", "''")}', ${ts})`), expected, pattern);
      }
    });
    test('an unknown zone or pattern letter gives Undefined', () => {
      assert.equal(value(`parse_time('yyyy', 0, 'Not/AZone')`), U);
      assert.equal(value(`parse_time('yyyy q', 0)`), U);
      assert.equal(value(`parse_time('yyyy', 'x')`), U);
    });
  });

  rows('power', [
    ['power(2, 5)', 32],
    ['power("2", "0.5")', Math.SQRT2],
    ['power(2, "x")', U],
    ['power(true, 2)', U],
  ]);

  rows('principal', [['principal()', 'ba67293af50bf2506f5f93469686da660c7c844e7b3950bfb16813e0d31e9373']], {
    principal: 'ba67293af50bf2506f5f93469686da660c7c844e7b3950bfb16813e0d31e9373',
  });

  describe('rand', () => {
    test('returns a double between 0.0 and 1.0', () => {
      const r = value('rand()');
      assert.equal(typeof r, 'number');
      assert.ok((r as number) >= 0 && (r as number) < 1);
    });
  });

  rows('regexp_matches', [
    ['regexp_matches("aaaa", "a{2,}")', true],
    ['regexp_matches("aaaa", "b")', false],
    ['regexp_matches("aaa", "(aaa|bbb)")', true],
    ['regexp_matches("bbb", "(aaa|bbb)")', true],
    ['regexp_matches("ccc", "(aaa|bbb)")', false],
    ['regexp_matches(12345, "3")', true], // first argument: String representation of the Int
    ['regexp_matches(null, "a")', U],
    ['regexp_matches("a", "(")', U], // not a valid regex -> Undefined
    ['regexp_matches("ABC", "(?i)abc")', true],
  ]);

  rows('regexp_replace', [
    ['regexp_replace("abcd", "bc", "x")', 'axd'],
    ['regexp_replace("abcd", "b(.*)d", "$1")', 'ac'],
    ['regexp_replace("a1b22", "[0-9]+", "#")', 'a#b#'], // all occurrences
    ['regexp_replace("abcd", "b", "$2")', U], // not a valid replacement string
    ['regexp_replace(missing, "b", "x")', U],
  ]);

  rows('regexp_substr', [
    ['regexp_substr("hihihello", "hi")', 'hi'],
    ['regexp_substr("hihihello", "(hi)*")', 'hihi'],
    ['regexp_substr(null, "a")', U],
  ]);

  rows('replace', [
    ['replace("abcd", "bc", "x")', 'axd'],
    ['replace("abcdabcd", "b", "x")', 'axcdaxcd'],
    ['replace(12321, 2, "$")', '1$3$1'],
    ['replace("abc", null, "x")', U],
  ]);

  rows('round', [
    ['round(1.2)', 1],
    ['Round(1.5)', 2],
    ['Round(1.7)', 2],
    ['Round(-1.1)', -1],
    ['Round(-1.5)', -2],
    ['round(3)', 3],
    ['round("2.5")', 3],
    ['round(true)', U],
  ]);

  rows('sign', [
    ['sign(-7)', -1],
    ['sign(0)', 0],
    ['sign(13)', 1],
    ['sign("-0.5")', -1],
    ['sign("x")', U],
  ]);

  rows('sqrt', [
    ['sqrt(9)', 3],
    ['sqrt("16")', 4],
    ['sqrt(-1)', U],
    ['sqrt(true)', U],
  ]);

  rows('substring', [
    ['substring("012345", 0)', '012345'],
    ['substring("012345", 2)', '2345'],
    ['substring("012345", 2.745)', '2345'],
    ['substring(123, 2)', '3'],
    ['substring("012345", -1)', '012345'],
    ['substring(true, 1.2)', 'rue'],
    ['substring(false, -2.411E247)', 'false'],
    ['substring("012345", 1, 3)', '12'],
    ['substring("012345", -50, 50)', '012345'],
    ['substring("012345", 3, 1)', ''],
    ['substring("012345", "x")', U],
  ]);

  rows('sql_version', [['sql_version()', '2016-03-23']]);

  rows('timestamp', [['timestamp()', NOW]]);

  rows('topic', [
    ['topic()', 'things/myThings/thingOne'],
    ['topic(1)', 'things'],
    ['topic(3)', 'thingOne'],
    ['topic(4)', U],
    ['topic(0)', U],
  ], { topic: 'things/myThings/thingOne' });

  rows('topic with Basic Ingest', [
    ['topic()', 'Buildings/Building5/Floor2/Room201/Lights'],
    ['topic(3)', 'Floor2'],
  ], { topic: '$aws/rules/BuildingManager/Buildings/Building5/Floor2/Room201/Lights' });

  rows('traceid', [['traceid()', '12345678-1234-1234-1234-123456789012']], { traceId: '12345678-1234-1234-1234-123456789012' });
  rows('traceid without MQTT', [['traceid()', U]]);

  describe('transform', () => {
    const example = { attributes: { data1: 1, data2: 2 }, values: [{ a: 3 }, { b: 4 }, { c: 5 }] };
    test('example 1: enrichArray', () => {
      assert.deepEqual(value('transform("enrichArray", attributes, values)', example), [
        { a: 3, data1: 1, data2: 2 },
        { b: 4, data1: 1, data2: 2 },
        { c: 5, data1: 1, data2: 2 },
      ]);
    });
    test('example 2: a literal object renames attributes', () => {
      assert.deepEqual(value('transform("enrichArray", {"key": attributes.data1}, values)', example), [
        { a: 3, key: 1 },
        { b: 4, key: 1 },
        { c: 5, key: 1 },
      ]);
    });
    test('example 3: nested SELECTs as arguments', () => {
      const payload = {
        data1: 'example',
        data2: {
          a: 'first attribute',
          b: 'second attribute',
          c: [
            { x: { someInt: 5, someString: 'hello' }, y: true },
            { x: { someInt: 10, someString: 'world' }, y: false },
          ],
        },
      };
      assert.deepEqual(value(`transform('enrichArray', (select a, b from data2), (select value c from data2))`, payload), [
        { x: { someInt: 5, someString: 'hello' }, y: true, a: 'first attribute', b: 'second attribute' },
        { x: { someInt: 10, someString: 'world' }, y: false, a: 'first attribute', b: 'second attribute' },
      ]);
    });
    test('any other mode is Undefined', () => {
      assert.equal(value('transform("other", attributes, values)', example), U);
    });
  });

  rows('trunc', [
    ['trunc(2.3, 0)', 2],
    ['trunc(2.3123, 2)', 2.31],
    ['trunc(2.888, 2)', 2.88],
    ['trunc(2.00, 5)', 2],
    ['trunc(7, 2)', 7],
    ['trunc("2.888", 1)', 2.8],
    ['trunc(2.888, 1.9)', 2.8], // second argument rounded down
    ['trunc(true, 1)', U],
  ]);
});

// https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-json.md, "Applying a Function to an Attribute Value"
describe('iot-sql-json.md: md5 of an attribute', () => {
  test('SELECT temp, md5(deviceid) AS hashed_id', () => {
    const payload = { deviceid: 'iot123', temp: 54.98, humidity: 32.43, coords: { latitude: 47.615694, longitude: -122.3359976 } };
    assert.deepEqual(json('SELECT temp, md5(deviceid) AS hashed_id FROM \'topic/#\'', payload), { temp: 54.98, hashed_id: 'e37f81fb397e595c4aeb5645b8cbbbd1' });
  });
});
