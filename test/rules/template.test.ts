// Substitution templates in action parameters.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { compileRule, compileTemplate, SqlError } from '../../src/rules/index.js';
import { message } from './helpers.js';

// https://docs.aws.amazon.com/iot/latest/developerguide/iot-substitution-templates.html
describe('iot-substitution-templates.md', () => {
  const payload = { deviceid: 'iot123', temp: 54.98, humidity: 32.43, coords: { latitude: 47.615694, longitude: -122.3359976 } };
  test('"${topic()}/republish" on my/iot/topic', () => {
    assert.equal(compileTemplate('${topic()}/republish').render(message(payload, { topic: 'my/iot/topic' })), 'my/iot/topic/republish');
  });
  test('the expression is evaluated against the original payload, not the SELECT output', () => {
    const rule = compileRule("SELECT *, timestamp() AS timestamp, deviceid AS id FROM 'my/iot/topic'");
    const input = message(payload, { topic: 'my/iot/topic', timestamp: 1579637878451 });
    const out = rule.evaluate(input);
    assert.deepEqual(out, { kind: 'json', value: { ...payload, timestamp: 1579637878451, id: 'iot123' } });
    const t = compileTemplate('${deviceid}/${id}/${coords.latitude}');
    assert.equal(t.render(input, out), 'iot123//47.615694'); // `id` is an AS alias: not visible
  });
  test("\"${replace(topic(), '/', '-') + '-' + timestamp()}\" (aws-iot-reference §7.5)", () => {
    const t = compileTemplate("${replace(topic(), '/', '-') + '-' + timestamp()}");
    assert.equal(t.render(message({}, { topic: 'a/b/c', timestamp: 42 })), 'a-b-c-42');
  });
});

// https://docs.aws.amazon.com/iot/latest/developerguide/republish-rule-action.html
describe('republish-rule-action.md: $$ for a topic beginning with $', () => {
  test('$$aws/things/MyThing/shadow/update', () => {
    assert.equal(compileTemplate('$$aws/things/MyThing/shadow/update').render(message()), '$aws/things/MyThing/shadow/update');
  });
  test('$$ with a substitution after it', () => {
    assert.equal(compileTemplate('$$aws/things/${clientid()}/shadow/update').render(message({}, { clientId: 'dev1' })), '$aws/things/dev1/shadow/update');
  });
  test('a $ elsewhere is ordinary text', () => {
    assert.equal(compileTemplate('price$5/a$$b').render(message()), 'price$5/a$$b');
  });
});

// https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-set.html, "Using variables in substitution templates"
describe('iot-sql-set.md: variables in templates', () => {
  const rule = compileRule("SET @temp_celsius = (temp_fahrenheit - 32) * 5 / 9 SELECT @temp_celsius AS celsius, humidity FROM 'device/data'");
  test('temperature-data/${device_id}/temp-${@temp_celsius}C.json', () => {
    const input = message({ temp_fahrenheit: 77, humidity: 60, device_id: 'd-9' });
    const out = rule.evaluate(input);
    assert.deepEqual(out?.value, { celsius: 25, humidity: 60 });
    const t = compileTemplate('temperature-data/${device_id}/temp-${@temp_celsius}C.json', { rule });
    assert.equal(t.render(input, out), 'temperature-data/d-9/temp-25C.json');
  });
  test('a variable the rule does not SET is a compile error', () => {
    assert.throws(() => compileTemplate('x/${@nope}', { rule }), { code: 'SQL_UNDEFINED_VARIABLE', line: 1, column: 5 });
  });
  test('without the rule output a variable is empty', () => {
    assert.equal(compileTemplate('v=${@temp_celsius}').render(message()), 'v=');
  });
});

describe('values in templates', () => {
  const cases: Array<[string, string]> = [
    ['${n}', '12'],
    ['${d}', '1.5'],
    ['${b}', 'true'],
    ['${s}', 'text'],
    ['${arr}', '[1,"x"]'],
    ['${obj}', '{"k":"v"}'],
    ['${nul}', ''], // Null has no String form
    ['${missing}', ''], // "Undefined is converted to an empty string when serialized by itself"
    ['${topic(2)}-${topic(9)}', 'b-'],
    ['${ {"a": n}.a }', '12'],
    ['${upper(s)}', 'TEXT'],
    ['plain', 'plain'],
    ['', ''],
  ];
  const payload = { n: 12, d: 1.5, b: true, s: 'text', arr: [1, 'x'], obj: { k: 'v' }, nul: null };
  for (const [template, expected] of cases) {
    test(JSON.stringify(template), () => assert.equal(compileTemplate(template).render(message(payload)), expected));
  }
  test('a template over a binary payload can use functions', () => {
    assert.equal(compileTemplate('raw/${encode(*, "base64")}/${clientid()}').render(message(Buffer.from([1, 2]))), 'raw/AQI=/n/a');
  });
  test('constant templates are flagged', () => {
    assert.equal(compileTemplate('a/b').constant, true);
    assert.equal(compileTemplate('a/${topic()}').constant, false);
  });
});

describe('template compile errors', () => {
  const cases: Array<[string, string, number, number]> = [
    ['alerts/${topic(2)', 'SQL_UNTERMINATED_TEMPLATE', 1, 8],
    ['alerts/${}', 'SQL_SYNTAX', 1, 10],
    ['alerts/${nope()}', 'SQL_UNKNOWN_FUNCTION', 1, 10],
    ['a\n${topic(1, 2)}', 'SQL_WRONG_ARITY', 2, 3],
    ['${a b}', 'SQL_SYNTAX', 1, 5],
    ["${'x}", 'SQL_UNTERMINATED_STRING', 1, 3],
  ];
  for (const [template, code, line, column] of cases) {
    test(JSON.stringify(template), () => {
      assert.throws(
        () => compileTemplate(template),
        (e: unknown) => e instanceof SqlError && e.code === code && e.line === line && e.column === column,
      );
    });
  }
});
