/**
 * The TCP_INFO fields are declared once, in C (KA_TCP_INFO_FIELDS in
 * native/keepalive.h), and the addon exports their names in slot order
 * (tcpInfoFields). The TypeScript side names them again for speed (FIELDS, the
 * TcpInfo type, two decoders with fixed indices): these checks tie all of them
 * to the addon's list.
 */
import { FIELDS, decodeComplete, decodeEach, type TcpInfo } from '../../src/health/tcp-info';
import { addon } from '../../src/native/load';

/** true when A and B are the same set of names; anything else fails to compile. */
type SameNames<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// tsc (npm run lint, and ts-jest here) refuses this line if TcpInfo and FIELDS name different fields.
const fieldsNameTcpInfo: SameNames<(typeof FIELDS)[number], keyof TcpInfo> = true;

const native = addon();
const withAddon = native === undefined ? test.skip : test;

withAddon("the addon's tcpInfoFields are FIELDS, in the same order, one tcpInfoValues slot each", () => {
  expect([...native!.tcpInfoFields]).toEqual([...FIELDS]);
  expect(native!.tcpInfoValues.length).toBe(FIELDS.length);
});

test('TcpInfo has exactly the fields FIELDS names', () => {
  expect(fieldsNameTcpInfo).toBe(true);
});

/** Values only one slot can hold: state 1 ('established'), then 100 + the slot's index. */
function distinctSlots(): Float64Array {
  return Float64Array.from(FIELDS, (_, index) => (index === 0 ? 1 : 100 + index));
}

describe.each([
  ['decodeEach', decodeEach],
  ['decodeComplete', decodeComplete],
])('%s', (_, decode) => {
  test('reads slot i into the field FIELDS[i], in FIELDS order', () => {
    const decoded = decode(distinctSlots());
    expect(Object.keys(decoded)).toEqual([...FIELDS]);
    FIELDS.forEach((name, index) => {
      if (name === 'state') expect(decoded.state).toBe('established');
      // decodeComplete is the Linux path, and Linux's struct has no member for sendQueue (an OTHER row in C).
      else if (decode === decodeComplete && name === 'sendQueue') expect(decoded.sendQueue).toBeUndefined();
      else expect(decoded[name as keyof TcpInfo]).toBe(100 + index);
    });
  });
});

test('decodeEach turns every NaN slot (not reported) into undefined', () => {
  const decoded = decodeEach(new Float64Array(FIELDS.length).fill(NaN));
  expect(decoded.state).toBe('unknown');
  for (const name of FIELDS.slice(1)) expect(decoded[name]).toBeUndefined();
});
