// A minimal ECMA-402 `Intl` for Outpost isolates: https://tc39.es/ecma402/
//
// QuickJS-ng ships no Intl, so this is a small, honest subset with locale
// data for `en-US` only (every requested locale negotiates to it, which the
// spec's "best fit" matcher allows: https://tc39.es/ecma402/#sec-resolvelocale)
// and the `UTC` time zone only. Strings match what V8/workerd print for
// en-US (with ASCII spaces, as Chromium's ICU data does, not CLDR's U+202F).
//
// Loaded by intl.rs on the first read of `Intl` (lazy_globals.js) or the
// first call of a locale-sensitive built-in (the wrappers in intl.rs fill
// in through `hooks`). The script evaluates to the group's factory.
(function ($, hooks) {
  'use strict';
  const { ObjectDefineProperty, ObjectFreeze, ReflectApply, SymbolIterator, SymbolToStringTag } = $;
  const $TypeError = TypeError;
  const $RangeError = RangeError;
  const $String = String;
  const $Number = Number;
  const $Object = Object;
  const $Date = Date;
  const MathFloor = Math.floor;
  const MathAbs = Math.abs;
  const NumberIsFinite = Number.isFinite;
  const NumberIsNaN = Number.isNaN;
  const ObjectIs = Object.is;
  const slots = new WeakMap();
  const numberValue = Number.prototype.valueOf;
  const bigintValue = BigInt.prototype.valueOf;
  const dateValue = Date.prototype.getTime;
  const DateNow = Date.now;

  const LOCALE = 'en-US';

  // ---- helpers -------------------------------------------------------

  const method = (target, name, fn, length) => {
    ObjectDefineProperty(fn, 'length', { value: length, configurable: true });
    ObjectDefineProperty(target, name, { value: fn, writable: true, enumerable: false, configurable: true });
  };
  const getter = (target, name, get) => {
    ObjectDefineProperty(target, name, { get, enumerable: false, configurable: true });
  };
  const tag = (proto, name) => {
    ObjectDefineProperty(proto, SymbolToStringTag, { value: name, configurable: true });
  };
  const slotOf = (obj, kind, what) => {
    const s = typeof obj === 'object' && obj !== null ? slots.get(obj) : undefined;
    if (s === undefined || s.kind !== kind) {
      throw new $TypeError(`Method Intl.${kind}.prototype.${what} called on incompatible receiver`);
    }
    return s;
  };

  // https://tc39.es/ecma402/#sec-coerceoptionstoobject
  const toOptions = (options) => {
    if (options === undefined) return { __proto__: null };
    if (options === null) throw new $TypeError('Cannot convert undefined or null to object');
    return $Object(options);
  };
  // https://tc39.es/ecma402/#sec-getoption
  const getOption = (options, prop, type, values, fallback) => {
    let value = options[prop];
    if (value === undefined) return fallback;
    if (type === 'boolean') value = !!value;
    else value = $String(value);
    if (values !== undefined && !values.includes(value)) {
      throw new $RangeError(`Value ${value} out of range for Intl options property ${prop}`);
    }
    return value;
  };
  // https://tc39.es/ecma402/#sec-defaultnumberoption
  const numberOption = (options, prop, min, max, fallback) => {
    const raw = options[prop];
    if (raw === undefined) return fallback;
    const value = $Number(raw);
    if (NumberIsNaN(value) || value < min || value > max) {
      throw new $RangeError(`${prop} value is out of range.`);
    }
    return MathFloor(value);
  };

  // ---- locales -------------------------------------------------------

  // https://tc39.es/ecma402/#sec-isstructurallyvalidlanguagetag (simplified:
  // unicode_locale_id without the grandfathered forms).
  const LANG_TAG =
    /^([a-z]{2,3}|[a-z]{5,8})(-[a-z]{4})?(-(?:[a-z]{2}|[0-9]{3}))?((?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*)((?:-[a-wyz0-9](?:-[a-z0-9]{2,8})+)*)(-x(?:-[a-z0-9]{1,8})+)?$/i;
  const canonicalizeTag = (tag) => {
    const m = LANG_TAG.exec(tag);
    if (m === null) throw new $RangeError(`Incorrect locale information provided`);
    let out = m[1].toLowerCase();
    if (m[2]) out += '-' + m[2][1].toUpperCase() + m[2].slice(2).toLowerCase();
    if (m[3]) out += m[3].toUpperCase();
    return out + (m[4] + m[5] + (m[6] || '')).toLowerCase();
  };
  // https://tc39.es/ecma402/#sec-canonicalizelocalelist
  const canonicalizeLocaleList = (locales) => {
    if (locales === undefined) return [];
    const list = typeof locales === 'string' ? [locales] : $Object(locales);
    const seen = [];
    const len = $Number(list.length) >>> 0;
    for (let i = 0; i < len; i++) {
      if (!(i in list)) continue;
      const v = list[i];
      if (typeof v !== 'string' && (typeof v !== 'object' || v === null)) {
        throw new $TypeError('Language ID should be string or object.');
      }
      const c = canonicalizeTag($String(v));
      if (!seen.includes(c)) seen.push(c);
    }
    return seen;
  };
  // Validates the request, then negotiates to the only locale there is.
  const resolveLocale = (locales) => {
    canonicalizeLocaleList(locales);
    return LOCALE;
  };
  const supportedLocalesOf = function supportedLocalesOf(locales, options) {
    const requested = canonicalizeLocaleList(locales);
    if (options !== undefined) getOption(toOptions(options), 'localeMatcher', 'string', ['lookup', 'best fit'], 'best fit');
    return requested.filter((l) => l === 'en' || l.startsWith('en-'));
  };
  const localeMatcher = (options) => getOption(options, 'localeMatcher', 'string', ['lookup', 'best fit'], 'best fit');

  const defineConstructor = (C, name, length) => {
    ObjectDefineProperty(C, 'length', { value: length, configurable: true });
    method(C, 'supportedLocalesOf', supportedLocalesOf, 1);
    tag(C.prototype, `Intl.${name}`);
    ObjectDefineProperty(C, 'prototype', { writable: false, enumerable: false, configurable: false });
  };

  // ---- decimal arithmetic on digit strings ----------------------------
  //
  // Numbers are formatted from their shortest round-trip decimal (what
  // `String(x)` gives, as ICU does), so 1.005 rounds to "1.01" and BigInts
  // are exact. A value is { digits, exp }: the integer `digits` × 10^exp.

  const toDecimal = (abs) => {
    let s = $String(abs);
    let exp = 0;
    const e = s.indexOf('e');
    if (e >= 0) {
      exp = $Number(s.slice(e + 1));
      s = s.slice(0, e);
    }
    const dot = s.indexOf('.');
    if (dot >= 0) {
      exp -= s.length - dot - 1;
      s = s.slice(0, dot) + s.slice(dot + 1);
    }
    s = s.replace(/^0+/, '') || '0';
    return { digits: s, exp };
  };
  const increment = (s) => {
    let i = s.length - 1;
    while (i >= 0 && s[i] === '9') i--;
    if (i < 0) return '1' + '0'.repeat(s.length);
    return s.slice(0, i) + $String.fromCharCode(s.charCodeAt(i) + 1) + '0'.repeat(s.length - i - 1);
  };
  // Rounds half away from zero ("halfExpand", the spec default) so that
  // exp >= minExp.
  const roundTo = (d, minExp) => {
    if (d.exp >= minExp) return d;
    const drop = minExp - d.exp;
    const n = d.digits.length;
    let kept;
    let up;
    if (drop > n) {
      kept = '0';
      up = false;
    } else {
      kept = d.digits.slice(0, n - drop) || '0';
      up = d.digits.charCodeAt(n - drop) >= 53;
    }
    if (up) kept = increment(kept);
    return { digits: kept.replace(/^0+(?=.)/, ''), exp: minExp };
  };
  const isZero = (d) => /^0*$/.test(d.digits);
  // Integer and fraction digit strings of a decimal.
  const split = (d) => {
    if (d.exp >= 0) return [isZero(d) ? '0' : d.digits + '0'.repeat(d.exp), ''];
    const f = -d.exp;
    const s = d.digits.padStart(f + 1, '0');
    return [s.slice(0, s.length - f).replace(/^0+(?=.)/, ''), s.slice(s.length - f)];
  };
  const integerDigitCount = (d) => (isZero(d) ? 0 : d.digits.length + d.exp);

  // https://tc39.es/ecma402/#sec-formatnumericto-string
  const roundDecimal = (d, r) => {
    let int;
    let frac;
    if (r.type === 'significant') {
      const zero = isZero(d);
      [int, frac] = split(zero ? { digits: '0', exp: 0 } : roundTo(d, integerDigitCount(d) - r.maxSD));
      frac = frac.replace(/0+$/, '');
      // Zero shows one significant digit; otherwise leading zeros do not count.
      const shown = int === '0' ? (zero ? 1 : frac.replace(/^0+/, '').length) : int.length + frac.length;
      if (shown < r.minSD) frac += '0'.repeat(r.minSD - shown);
    } else {
      [int, frac] = split(roundTo(d, -r.maxFD));
      frac = frac.replace(/0+$/, '');
      if (frac.length < r.minFD) frac = frac.padEnd(r.minFD, '0');
    }
    if (int.length < r.minID) int = int.padStart(r.minID, '0');
    return [int, frac];
  };

  // ---- NumberFormat --------------------------------------------------

  const CURRENCY_SYMBOLS = { __proto__: null, USD: '$', EUR: '€', GBP: '£', JPY: '¥' };
  const CURRENCY_NAMES = {
    __proto__: null,
    USD: ['US dollar', 'US dollars'],
    EUR: ['euro', 'euros'],
    GBP: ['British pound', 'British pounds'],
    JPY: ['Japanese yen', 'Japanese yen'],
  };
  const currencyDigits = (c) => (c === 'JPY' ? 0 : 2);
  const COMPACT_SHORT = ['', 'K', 'M', 'B', 'T'];
  const COMPACT_LONG = ['', ' thousand', ' million', ' billion', ' trillion'];

  // https://tc39.es/ecma402/#sec-setnfdigitoptions
  const digitOptions = (options, mnfdDefault, mxfdDefault, notation) => {
    const minID = numberOption(options, 'minimumIntegerDigits', 1, 21, 1);
    const mnsd = options.minimumSignificantDigits;
    const mxsd = options.maximumSignificantDigits;
    const mnfd = options.minimumFractionDigits;
    const mxfd = options.maximumFractionDigits;
    const r = { minID, type: 'fraction', minFD: mnfdDefault, maxFD: mxfdDefault, minSD: 1, maxSD: 21, compactDefault: false };
    if (mnsd !== undefined || mxsd !== undefined) {
      r.type = 'significant';
      r.minSD = numberOption({ v: mnsd }, 'v', 1, 21, 1);
      r.maxSD = numberOption({ v: mxsd }, 'v', r.minSD, 21, 21);
    } else if (mnfd !== undefined || mxfd !== undefined) {
      let mn = numberOption({ minimumFractionDigits: mnfd }, 'minimumFractionDigits', 0, 100, undefined);
      let mx = numberOption({ maximumFractionDigits: mxfd }, 'maximumFractionDigits', 0, 100, undefined);
      if (mn === undefined) mn = Math.min(mnfdDefault, mx);
      else if (mx === undefined) mx = Math.max(mxfdDefault, mn);
      else if (mn > mx) throw new $RangeError('maximumFractionDigits value is out of range.');
      r.minFD = mn;
      r.maxFD = mx;
    } else if (notation === 'compact') {
      r.compactDefault = true;
      r.minFD = 0;
      r.maxFD = 0;
    }
    return r;
  };

  // https://tc39.es/ecma402/#sec-initializenumberformat
  const initNumberFormat = (locales, optionsIn) => {
    const locale = resolveLocale(locales);
    const options = toOptions(optionsIn);
    localeMatcher(options);
    const nu = getOption(options, 'numberingSystem', 'string', undefined, undefined);
    if (nu !== undefined && !/^[a-z0-9]{3,8}(-[a-z0-9]{3,8})*$/i.test(nu)) throw new $RangeError('Invalid numberingSystem');
    const style = getOption(options, 'style', 'string', ['decimal', 'percent', 'currency', 'unit'], 'decimal');
    let currency = getOption(options, 'currency', 'string', undefined, undefined);
    if (currency !== undefined && !/^[a-z]{3}$/i.test(currency)) throw new $RangeError(`Invalid currency code : ${currency}`);
    const currencyDisplay = getOption(options, 'currencyDisplay', 'string', ['code', 'symbol', 'narrowSymbol', 'name'], 'symbol');
    const currencySign = getOption(options, 'currencySign', 'string', ['standard', 'accounting'], 'standard');
    const unit = getOption(options, 'unit', 'string', undefined, undefined);
    getOption(options, 'unitDisplay', 'string', ['short', 'narrow', 'long'], 'short');
    if (style === 'currency') {
      if (currency === undefined) throw new $TypeError('Currency code is required with currency style.');
      currency = currency.toUpperCase();
    }
    if (style === 'unit') {
      if (unit === undefined) throw new $TypeError('Unit is required with unit style.');
      throw new $RangeError('Intl.NumberFormat style "unit" is not supported by this runtime');
    }
    const notation = getOption(options, 'notation', 'string', ['standard', 'scientific', 'engineering', 'compact'], 'standard');
    let mnfdDefault = 0;
    let mxfdDefault = 3;
    if (style === 'currency' && notation === 'standard') {
      mnfdDefault = mxfdDefault = currencyDigits(currency);
    } else if (style === 'percent') {
      mxfdDefault = 0;
    }
    const r = digitOptions(options, mnfdDefault, mxfdDefault, notation);
    const compactDisplay = getOption(options, 'compactDisplay', 'string', ['short', 'long'], 'short');
    const rawGrouping = options.useGrouping;
    let useGrouping;
    if (rawGrouping === undefined) useGrouping = notation === 'compact' ? 'min2' : 'auto';
    else if (rawGrouping === true) useGrouping = 'always';
    else if (!rawGrouping) useGrouping = false;
    else {
      useGrouping = $String(rawGrouping);
      if (useGrouping === 'true' || useGrouping === 'false') useGrouping = notation === 'compact' ? 'min2' : 'auto';
      else if (!['min2', 'auto', 'always'].includes(useGrouping)) throw new $RangeError(`Value ${useGrouping} out of range for Intl.NumberFormat options property useGrouping`);
    }
    const signDisplay = getOption(options, 'signDisplay', 'string', ['auto', 'never', 'always', 'exceptZero', 'negative'], 'auto');
    return { locale, style, currency, currencyDisplay, currencySign, notation, compactDisplay, useGrouping, signDisplay, r };
  };

  const group = (int, mode) => {
    if (mode === false || int.length <= 3 || (mode === 'min2' && int.length < 5)) return [int];
    const out = [];
    let first = int.length % 3 || 3;
    out.push(int.slice(0, first));
    for (; first < int.length; first += 3) out.push(int.slice(first, first + 3));
    return out;
  };

  // The parts of one number. https://tc39.es/ecma402/#sec-partitionnumberpattern
  const numberParts = (nf, x) => {
    let negative;
    let d;
    let special;
    if (typeof x === 'bigint') {
      negative = x < 0n;
      d = toDecimal(negative ? -x : x);
    } else if (typeof x === 'object') {
      negative = x.exact[0] === '-';
      d = toDecimal(x.exact.replace(/^[+-]/, '').toLowerCase());
    } else if (NumberIsNaN(x)) {
      negative = false;
      special = ['nan', 'NaN'];
    } else {
      negative = x < 0 || ObjectIs(x, -0);
      if (!NumberIsFinite(x)) special = ['infinity', '∞'];
      else d = toDecimal(MathAbs(x));
    }
    const body = [];
    let zero = false;
    if (special !== undefined) {
      body.push({ type: special[0], value: special[1] });
    } else {
      if (nf.style === 'percent') d = { digits: d.digits, exp: d.exp + 2 };
      let suffix = '';
      let exponent;
      if (nf.notation === 'compact') {
        let idx = Math.min(4, MathFloor((integerDigitCount(d) - 1) / 3));
        if (idx < 0) idx = 0;
        for (;;) {
          const scaled = { digits: d.digits, exp: d.exp - idx * 3 };
          let r = nf.r;
          if (r.compactDefault) {
            r = integerDigitCount(scaled) <= 1
              ? { minID: r.minID, type: 'significant', minSD: 1, maxSD: 2 }
              : { minID: r.minID, type: 'fraction', minFD: 0, maxFD: 0 };
          }
          const [int, frac] = roundDecimal(scaled, r);
          if (int.replace(/^0+/, '').length > 3 && idx < 4) {
            idx++;
            continue;
          }
          d = { int, frac };
          break;
        }
        suffix = idx === 0 ? '' : nf.compactDisplay === 'long' ? COMPACT_LONG[idx] : COMPACT_SHORT[idx];
      } else if (nf.notation === 'scientific' || nf.notation === 'engineering') {
        const step = nf.notation === 'engineering' ? 3 : 1;
        let e = isZero(d) ? 0 : integerDigitCount(d) - 1;
        e = MathFloor(e / step) * step;
        for (;;) {
          const [int, frac] = roundDecimal({ digits: d.digits, exp: d.exp - e }, nf.r);
          if (int.replace(/^0+/, '').length > step && !isZero(d)) {
            e += step;
            continue;
          }
          d = { int, frac };
          break;
        }
        exponent = e;
      } else {
        const [int, frac] = roundDecimal(d, nf.r);
        d = { int, frac };
      }
      zero = /^0*$/.test(d.int) && /^0*$/.test(d.frac);
      const groups = group(d.int, nf.useGrouping);
      for (let i = 0; i < groups.length; i++) {
        if (i > 0) body.push({ type: 'group', value: ',' });
        body.push({ type: 'integer', value: groups[i] });
      }
      if (d.frac !== '') {
        body.push({ type: 'decimal', value: '.' });
        body.push({ type: 'fraction', value: d.frac });
      }
      if (exponent !== undefined) {
        body.push({ type: 'exponentSeparator', value: 'E' });
        if (exponent < 0) body.push({ type: 'exponentMinusSign', value: '-' });
        body.push({ type: 'exponentInteger', value: $String(MathAbs(exponent)) });
      }
      if (suffix !== '') {
        if (suffix[0] === ' ') body.push({ type: 'literal', value: ' ' });
        body.push({ type: 'compact', value: suffix.trim() });
      }
    }
    // https://tc39.es/ecma402/#sec-getnumberformatpattern
    let sign = '';
    switch (nf.signDisplay) {
      case 'auto':
        sign = negative ? '-' : '';
        break;
      case 'always':
        sign = negative ? '-' : '+';
        break;
      case 'exceptZero':
        sign = zero || special?.[0] === 'nan' ? '' : negative ? '-' : '+';
        break;
      case 'negative':
        sign = negative && !zero ? '-' : '';
        break;
      default:
        sign = '';
    }
    const accounting = nf.style === 'currency' && nf.currencySign === 'accounting' && sign === '-';
    const out = [];
    if (accounting) out.push({ type: 'literal', value: '(' });
    else if (sign !== '') out.push({ type: sign === '-' ? 'minusSign' : 'plusSign', value: sign });
    if (nf.style === 'currency') {
      const code = nf.currency;
      if (nf.currencyDisplay === 'name') {
        const formatted = body.map((p) => p.value).join('');
        const names = CURRENCY_NAMES[code];
        out.push(...body, { type: 'literal', value: ' ' });
        out.push({ type: 'currency', value: names === undefined ? code : formatted === '1' ? names[0] : names[1] });
      } else {
        const symbol = nf.currencyDisplay === 'code' ? undefined : CURRENCY_SYMBOLS[code];
        if (symbol === undefined) out.push({ type: 'currency', value: code }, { type: 'literal', value: '\u00a0' });
        else out.push({ type: 'currency', value: symbol });
        out.push(...body);
      }
    } else {
      out.push(...body);
      if (nf.style === 'percent') out.push({ type: 'percentSign', value: '%' });
    }
    if (accounting) out.push({ type: 'literal', value: ')' });
    return out;
  };

  // https://tc39.es/ecma402/#sec-tointlmathematicalvalue (strings go
  // through Number, so they are not exact beyond double precision).
  const DECIMAL_STRING = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;
  const toNumeric = (v) => {
    if (typeof v === 'object' && v !== null) v = v.valueOf();
    if (typeof v === 'bigint') return v;
    if (typeof v === 'string') {
      // Decimal strings stay exact, as V8 keeps them.
      const t = v.trim();
      if (DECIMAL_STRING.test(t)) return { exact: t };
    }
    return $Number(v);
  };
  const joinParts = (parts) => {
    let s = '';
    for (let i = 0; i < parts.length; i++) s += parts[i].value;
    return s;
  };

  function NumberFormat(locales, options) {
    if (new.target === undefined) return new NumberFormat(locales, options);
    const nf = initNumberFormat(locales, options);
    nf.kind = 'NumberFormat';
    slots.set(this, nf);
  }
  getter(NumberFormat.prototype, 'format', function format() {
    const nf = slotOf(this, 'NumberFormat', 'format');
    if (nf.bound === undefined) {
      nf.bound = (value) => joinParts(numberParts(nf, toNumeric(value)));
    }
    return nf.bound;
  });
  method(NumberFormat.prototype, 'formatToParts', function formatToParts(value) {
    return numberParts(slotOf(this, 'NumberFormat', 'formatToParts'), toNumeric(value));
  }, 1);
  method(NumberFormat.prototype, 'resolvedOptions', function resolvedOptions() {
    const nf = slotOf(this, 'NumberFormat', 'resolvedOptions');
    const o = { locale: nf.locale, numberingSystem: 'latn', style: nf.style };
    if (nf.style === 'currency') {
      o.currency = nf.currency;
      o.currencyDisplay = nf.currencyDisplay;
      o.currencySign = nf.currencySign;
    }
    o.minimumIntegerDigits = nf.r.minID;
    if (nf.r.type === 'significant') {
      o.minimumSignificantDigits = nf.r.minSD;
      o.maximumSignificantDigits = nf.r.maxSD;
    } else {
      o.minimumFractionDigits = nf.r.minFD;
      o.maximumFractionDigits = nf.r.maxFD;
    }
    o.useGrouping = nf.useGrouping;
    o.notation = nf.notation;
    if (nf.notation === 'compact') o.compactDisplay = nf.compactDisplay;
    o.signDisplay = nf.signDisplay;
    o.roundingIncrement = 1;
    o.roundingMode = 'halfExpand';
    o.roundingPriority = 'auto';
    o.trailingZeroDisplay = 'auto';
    return o;
  }, 0);
  defineConstructor(NumberFormat, 'NumberFormat', 0);

  // ---- PluralRules ---------------------------------------------------

  // https://unicode.org/cldr/charts/latest/supplemental/language_plural_rules.html#en
  const pluralOf = (pr, x) => {
    if (!NumberIsFinite(x)) return 'other';
    const [int, frac] = roundDecimal(toDecimal(MathAbs(x)), pr.r);
    if (pr.type === 'cardinal') return int.replace(/^0+/, '') === '1' && frac === '' ? 'one' : 'other';
    if (frac !== '') return 'other';
    const n10 = $Number(int.slice(-1));
    const n100 = $Number(int.slice(-2));
    if (n10 === 1 && n100 !== 11) return 'one';
    if (n10 === 2 && n100 !== 12) return 'two';
    if (n10 === 3 && n100 !== 13) return 'few';
    return 'other';
  };
  function PluralRules(locales, options) {
    if (new.target === undefined) throw new $TypeError("Constructor Intl.PluralRules requires 'new'");
    const locale = resolveLocale(locales);
    const o = toOptions(options);
    localeMatcher(o);
    const type = getOption(o, 'type', 'string', ['cardinal', 'ordinal'], 'cardinal');
    const r = digitOptions(o, 0, 3, 'standard');
    slots.set(this, { kind: 'PluralRules', locale, type, r });
  }
  method(PluralRules.prototype, 'select', function select(value) {
    return pluralOf(slotOf(this, 'PluralRules', 'select'), $Number(value));
  }, 1);
  method(PluralRules.prototype, 'resolvedOptions', function resolvedOptions() {
    const pr = slotOf(this, 'PluralRules', 'resolvedOptions');
    const o = { locale: pr.locale, type: pr.type, minimumIntegerDigits: pr.r.minID };
    if (pr.r.type === 'significant') {
      o.minimumSignificantDigits = pr.r.minSD;
      o.maximumSignificantDigits = pr.r.maxSD;
    } else {
      o.minimumFractionDigits = pr.r.minFD;
      o.maximumFractionDigits = pr.r.maxFD;
    }
    o.pluralCategories = pr.type === 'cardinal' ? ['one', 'other'] : ['few', 'one', 'two', 'other'];
    o.roundingIncrement = 1;
    o.roundingMode = 'halfExpand';
    o.roundingPriority = 'auto';
    o.trailingZeroDisplay = 'auto';
    return o;
  }, 0);
  defineConstructor(PluralRules, 'PluralRules', 0);

  // ---- DateTimeFormat ------------------------------------------------

  const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
  const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
  const UTC_NAMES = ['utc', 'etc/utc', 'etc/uct', 'uct', 'etc/universal', 'universal', 'etc/zulu', 'zulu', 'gmt', 'etc/gmt', 'etc/gmt0', 'etc/gmt+0', 'etc/gmt-0', 'gmt0', 'gmt+0', 'gmt-0', 'etc/greenwich', 'greenwich'];
  const COMPONENTS = ['weekday', 'era', 'year', 'month', 'day', 'dayPeriod', 'hour', 'minute', 'second', 'fractionalSecondDigits', 'timeZoneName'];
  const STYLES = ['full', 'long', 'medium', 'short'];

  // https://tc39.es/ecma402/#sec-createdatetimeformat
  const initDateTimeFormat = (locales, optionsIn, required, defaults) => {
    const locale = resolveLocale(locales);
    const options = optionsIn === undefined ? { __proto__: null } : toOptions(optionsIn);
    localeMatcher(options);
    const calendar = getOption(options, 'calendar', 'string', undefined, undefined);
    if (calendar !== undefined && calendar !== 'gregory' && calendar !== 'iso8601') {
      if (!/^[a-z0-9]{3,8}(-[a-z0-9]{3,8})*$/i.test(calendar)) throw new $RangeError(`Invalid calendar : ${calendar}`);
    }
    getOption(options, 'numberingSystem', 'string', undefined, undefined);
    const hour12 = getOption(options, 'hour12', 'boolean', undefined, undefined);
    let hourCycle = getOption(options, 'hourCycle', 'string', ['h11', 'h12', 'h23', 'h24'], undefined);
    if (hour12 !== undefined) hourCycle = hour12 ? 'h12' : 'h23';
    let tz = options.timeZone;
    if (tz !== undefined) {
      tz = $String(tz);
      if (!UTC_NAMES.includes(tz.toLowerCase())) {
        throw new $RangeError(`unsupported time zone: ${tz} (this runtime formats dates in UTC only)`);
      }
    }
    const f = { kind: 'DateTimeFormat', locale, hourCycle: hourCycle ?? 'h12' };
    f.weekday = getOption(options, 'weekday', 'string', ['narrow', 'short', 'long'], undefined);
    f.era = getOption(options, 'era', 'string', ['narrow', 'short', 'long'], undefined);
    f.year = getOption(options, 'year', 'string', ['2-digit', 'numeric'], undefined);
    f.month = getOption(options, 'month', 'string', ['2-digit', 'numeric', 'narrow', 'short', 'long'], undefined);
    f.day = getOption(options, 'day', 'string', ['2-digit', 'numeric'], undefined);
    f.dayPeriod = getOption(options, 'dayPeriod', 'string', ['narrow', 'short', 'long'], undefined);
    f.hour = getOption(options, 'hour', 'string', ['2-digit', 'numeric'], undefined);
    f.minute = getOption(options, 'minute', 'string', ['2-digit', 'numeric'], undefined);
    f.second = getOption(options, 'second', 'string', ['2-digit', 'numeric'], undefined);
    f.fractionalSecondDigits = numberOption(options, 'fractionalSecondDigits', 1, 3, undefined);
    f.timeZoneName = getOption(options, 'timeZoneName', 'string', ['short', 'long', 'shortOffset', 'longOffset', 'shortGeneric', 'longGeneric'], undefined);
    getOption(options, 'formatMatcher', 'string', ['basic', 'best fit'], 'best fit');
    f.dateStyle = getOption(options, 'dateStyle', 'string', STYLES, undefined);
    f.timeStyle = getOption(options, 'timeStyle', 'string', STYLES, undefined);
    const explicit = COMPONENTS.find((c) => f[c] !== undefined);
    if (f.dateStyle !== undefined || f.timeStyle !== undefined) {
      if (explicit !== undefined) throw new $TypeError(`Can't set option ${explicit} when ${f.dateStyle !== undefined ? 'dateStyle' : 'timeStyle'} is used`);
      if (required === 'date' && f.dateStyle === undefined) throw new $TypeError('Invalid option : timeStyle');
      if (required === 'time' && f.timeStyle === undefined) throw new $TypeError('Invalid option : dateStyle');
    } else {
      // https://tc39.es/ecma402/#sec-todatetimeoptions
      let needDefaults = true;
      if (required === 'date' || required === 'any') {
        if (f.weekday !== undefined || f.year !== undefined || f.month !== undefined || f.day !== undefined) needDefaults = false;
      }
      if (required === 'time' || required === 'any') {
        if (f.dayPeriod !== undefined || f.hour !== undefined || f.minute !== undefined || f.second !== undefined || f.fractionalSecondDigits !== undefined) needDefaults = false;
      }
      if (needDefaults && (defaults === 'date' || defaults === 'all')) f.year = f.month = f.day = 'numeric';
      if (needDefaults && (defaults === 'time' || defaults === 'all')) f.hour = f.minute = f.second = 'numeric';
    }
    if (f.timeStyle !== undefined || f.hour !== undefined) f.usesHour = true;
    return f;
  };

  const pad2 = (n) => (n < 10 ? '0' + n : '' + n);
  const hourOf = (f, h) => {
    switch (f.hourCycle) {
      case 'h11':
        return h % 12;
      case 'h23':
        return h;
      case 'h24':
        return h === 0 ? 24 : h;
      default:
        return h % 12 === 0 ? 12 : h % 12;
    }
  };
  const twelveHour = (f) => f.hourCycle === 'h12' || f.hourCycle === 'h11';

  // en-US patterns as ICU's best-fit matcher picks them for V8.
  const datePartsOf = (f, t, out) => {
    const lit = (value) => out.push({ type: 'literal', value });
    const part = (type, value) => out.push({ type, value });
    const date = new $Date(t);
    const y = date.getUTCFullYear();
    const mo = date.getUTCMonth();
    const dd = date.getUTCDate();
    const wd = date.getUTCDay();
    let { weekday, year, month, day, era } = f;
    if (f.dateStyle !== undefined) {
      const s = f.dateStyle;
      weekday = s === 'full' ? 'long' : undefined;
      month = s === 'full' || s === 'long' ? 'long' : s === 'medium' ? 'short' : 'numeric';
      year = s === 'short' ? '2-digit' : 'numeric';
      day = 'numeric';
    }
    const yearStr = year === '2-digit' ? pad2(((y % 100) + 100) % 100) : y <= 0 ? $String(1 - y) : $String(y);
    const eraStr = era === undefined ? undefined : era === 'long' ? (y > 0 ? 'Anno Domini' : 'Before Christ') : era === 'narrow' ? (y > 0 ? 'A' : 'B') : y > 0 ? 'AD' : 'BC';
    const textMonth = month === 'long' || month === 'short' || month === 'narrow';
    const monthStr = month === undefined ? undefined : month === 'long' ? MONTHS[mo] : month === 'short' ? MONTHS[mo].slice(0, 3) : month === 'narrow' ? MONTHS[mo][0] : month === '2-digit' ? pad2(mo + 1) : $String(mo + 1);
    const dayStr = day === undefined ? undefined : day === '2-digit' ? pad2(dd) : $String(dd);
    const weekdayStr = weekday === undefined ? undefined : weekday === 'long' ? DAYS[wd] : weekday === 'short' ? DAYS[wd].slice(0, 3) : DAYS[wd][0];
    const start = out.length;
    if (monthStr === undefined && dayStr === undefined && yearStr !== undefined && year !== undefined) {
      if (weekdayStr !== undefined) {
        part('year', yearStr);
        lit(' ');
        part('weekday', weekdayStr);
      } else part('year', yearStr);
    } else if (monthStr !== undefined) {
      // "Jan 2, 2024" with a text month, "1/2/2024" with a numeric one.
      if (weekdayStr !== undefined) {
        part('weekday', weekdayStr);
        lit(', ');
      }
      part('month', monthStr);
      if (dayStr !== undefined) {
        lit(textMonth ? ' ' : '/');
        part('day', dayStr);
      }
      if (year !== undefined) {
        lit(!textMonth ? '/' : dayStr !== undefined ? ', ' : ' ');
        part('year', yearStr);
      }
    } else if (dayStr !== undefined) {
      part('day', dayStr);
      if (weekdayStr !== undefined) {
        lit(' ');
        part('weekday', weekdayStr);
      }
    } else if (weekdayStr !== undefined) {
      part('weekday', weekdayStr);
    }
    if (eraStr !== undefined) {
      if (out.length > start) lit(' ');
      part('era', eraStr);
    }
    return out.length > start;
  };

  const timePartsOf = (f, t, out) => {
    const lit = (value) => out.push({ type: 'literal', value });
    const part = (type, value) => out.push({ type, value });
    const date = new $Date(t);
    const h = date.getUTCHours();
    let { hour, minute, second, timeZoneName } = f;
    let fsd = f.fractionalSecondDigits;
    if (f.timeStyle !== undefined) {
      hour = 'numeric';
      minute = '2-digit';
      second = f.timeStyle === 'short' ? undefined : '2-digit';
      timeZoneName = f.timeStyle === 'full' ? 'long' : f.timeStyle === 'long' ? 'short' : undefined;
      fsd = undefined;
    }
    const start = out.length;
    const h12 = twelveHour(f);
    if (hour !== undefined) {
      const hv = hourOf(f, h);
      part('hour', hour === '2-digit' || !h12 ? pad2(hv) : $String(hv));
    }
    if (minute !== undefined) {
      if (hour !== undefined) lit(':');
      part('minute', hour !== undefined || second !== undefined ? pad2(date.getUTCMinutes()) : $String(date.getUTCMinutes()));
    }
    if (second !== undefined) {
      if (hour !== undefined || minute !== undefined) lit(':');
      part('second', hour !== undefined || minute !== undefined ? pad2(date.getUTCSeconds()) : $String(date.getUTCSeconds()));
    }
    if (fsd !== undefined) {
      if (second !== undefined) lit('.');
      part('fractionalSecond', $String(date.getUTCMilliseconds()).padStart(3, '0').slice(0, fsd));
    }
    if (hour !== undefined && h12) {
      lit(' ');
      part('dayPeriod', h < 12 ? 'AM' : 'PM');
    } else if (f.dayPeriod !== undefined && hour === undefined) {
      const period = h >= 6 && h < 12 ? 'in the morning' : h >= 12 && h < 18 ? 'in the afternoon' : h >= 18 && h < 21 ? 'in the evening' : 'at night';
      if (out.length > start) lit(' ');
      part('dayPeriod', h === 12 && date.getUTCMinutes() === 0 ? 'noon' : period);
    }
    if (timeZoneName !== undefined) {
      if (out.length > start) lit(' ');
      const name = timeZoneName === 'long' ? 'Coordinated Universal Time' : timeZoneName === 'short' ? 'UTC' : 'GMT';
      part('timeZoneName', name);
    }
    return out.length > start;
  };

  // https://tc39.es/ecma402/#sec-formatdatetimepattern
  const dateTimeParts = (f, date) => {
    let t = date === undefined ? DateNow() : $Number(date);
    if (!NumberIsFinite(t) || MathAbs(t) > 8.64e15) throw new $RangeError('Invalid time value');
    t = Math.trunc(t) + 0;
    const out = [];
    const hasDate = datePartsOf(f, t, out);
    const timeParts = [];
    const hasTime = timePartsOf(f, t, timeParts);
    if (hasDate && hasTime) {
      const at = f.dateStyle === 'full' || f.dateStyle === 'long';
      const tzOnly = timeParts[0].type === 'timeZoneName';
      out.push({ type: 'literal', value: at && !tzOnly ? ' at ' : ', ' });
    }
    for (let i = 0; i < timeParts.length; i++) out.push(timeParts[i]);
    return out;
  };

  function DateTimeFormat(locales, options) {
    if (new.target === undefined) return new DateTimeFormat(locales, options);
    slots.set(this, initDateTimeFormat(locales, options, 'any', 'date'));
  }
  getter(DateTimeFormat.prototype, 'format', function format() {
    const f = slotOf(this, 'DateTimeFormat', 'format');
    if (f.bound === undefined) f.bound = (date) => joinParts(dateTimeParts(f, date));
    return f.bound;
  });
  method(DateTimeFormat.prototype, 'formatToParts', function formatToParts(date) {
    return dateTimeParts(slotOf(this, 'DateTimeFormat', 'formatToParts'), date);
  }, 1);
  method(DateTimeFormat.prototype, 'resolvedOptions', function resolvedOptions() {
    const f = slotOf(this, 'DateTimeFormat', 'resolvedOptions');
    const o = { locale: f.locale, calendar: 'gregory', numberingSystem: 'latn', timeZone: 'UTC' };
    if (f.usesHour) {
      o.hourCycle = f.hourCycle;
      o.hour12 = twelveHour(f);
    }
    for (const c of COMPONENTS) {
      if (f[c] === undefined) continue;
      let v = f[c];
      if ((c === 'minute' || c === 'second') && (f.hour !== undefined || f.minute !== undefined)) v = '2-digit';
      if (c === 'hour' && !twelveHour(f)) v = '2-digit';
      o[c] = v;
    }
    if (f.dateStyle !== undefined) o.dateStyle = f.dateStyle;
    if (f.timeStyle !== undefined) o.timeStyle = f.timeStyle;
    return o;
  }, 0);
  defineConstructor(DateTimeFormat, 'DateTimeFormat', 0);

  // ---- Collator ------------------------------------------------------

  const MARKS = /\p{M}+/gu;
  const stripMarks = (s) => s.normalize('NFD').replace(MARKS, '');
  const PUNCT = /[\p{P}\p{S}\p{Z}\s]+/gu;
  const swapCase = (s) => {
    let out = '';
    for (const ch of s) {
      const lo = ch.toLowerCase();
      out += lo === ch ? ch.toUpperCase() : lo;
    }
    return out;
  };
  // Code point order, with runs of ASCII digits compared by value when
  // `numeric` is set.
  const compareCodePoints = (a, b, numeric) => {
    let i = 0;
    let j = 0;
    while (i < a.length && j < b.length) {
      const ca = a.codePointAt(i);
      const cb = b.codePointAt(j);
      if (numeric && ca >= 48 && ca <= 57 && cb >= 48 && cb <= 57) {
        let ei = i;
        let ej = j;
        while (ei < a.length && a.charCodeAt(ei) >= 48 && a.charCodeAt(ei) <= 57) ei++;
        while (ej < b.length && b.charCodeAt(ej) >= 48 && b.charCodeAt(ej) <= 57) ej++;
        const na = a.slice(i, ei).replace(/^0+(?=.)/, '');
        const nb = b.slice(j, ej).replace(/^0+(?=.)/, '');
        if (na.length !== nb.length) return na.length < nb.length ? -1 : 1;
        if (na !== nb) return na < nb ? -1 : 1;
        i = ei;
        j = ej;
        continue;
      }
      if (ca !== cb) return ca < cb ? -1 : 1;
      i += ca > 0xffff ? 2 : 1;
      j += cb > 0xffff ? 2 : 1;
    }
    if (i < a.length) return 1;
    if (j < b.length) return -1;
    return 0;
  };
  // Three levels, as a rough model of the UCA: base letters, then accents,
  // then case (lower before upper unless caseFirst is "upper").
  const collate = (c, x, y) => {
    let a = $String(x);
    let b = $String(y);
    if (c.ignorePunctuation) {
      a = a.replace(PUNCT, '');
      b = b.replace(PUNCT, '');
    }
    const pa = stripMarks(a).toLowerCase();
    const pb = stripMarks(b).toLowerCase();
    let r = compareCodePoints(pa, pb, c.numeric);
    if (r !== 0 || c.sensitivity === 'base') return r;
    if (c.sensitivity === 'accent' || c.sensitivity === 'variant') {
      r = compareCodePoints(a.normalize('NFD').toLowerCase(), b.normalize('NFD').toLowerCase(), c.numeric);
      if (r !== 0 || c.sensitivity === 'accent') return r;
    }
    const na = stripMarks(a);
    const nb = stripMarks(b);
    r = c.caseFirst === 'upper' ? compareCodePoints(na, nb, c.numeric) : compareCodePoints(swapCase(na), swapCase(nb), c.numeric);
    if (r !== 0 || c.sensitivity === 'case') return r;
    return compareCodePoints(a, b, c.numeric);
  };
  function Collator(locales, options) {
    if (new.target === undefined) return new Collator(locales, options);
    const locale = resolveLocale(locales);
    const o = toOptions(options);
    const usage = getOption(o, 'usage', 'string', ['sort', 'search'], 'sort');
    localeMatcher(o);
    getOption(o, 'collation', 'string', undefined, undefined);
    const numeric = getOption(o, 'numeric', 'boolean', undefined, false);
    const caseFirst = getOption(o, 'caseFirst', 'string', ['upper', 'lower', 'false'], 'false');
    const sensitivity = getOption(o, 'sensitivity', 'string', ['base', 'accent', 'case', 'variant'], 'variant');
    const ignorePunctuation = getOption(o, 'ignorePunctuation', 'boolean', undefined, false);
    slots.set(this, { kind: 'Collator', locale, usage, sensitivity, ignorePunctuation, collation: 'default', numeric, caseFirst });
  }
  getter(Collator.prototype, 'compare', function compare() {
    const c = slotOf(this, 'Collator', 'compare');
    if (c.bound === undefined) {
      c.bound = (x, y) => collate(c, x, y);
    }
    return c.bound;
  });
  method(Collator.prototype, 'resolvedOptions', function resolvedOptions() {
    const c = slotOf(this, 'Collator', 'resolvedOptions');
    return {
      locale: c.locale,
      usage: c.usage,
      sensitivity: c.sensitivity,
      ignorePunctuation: c.ignorePunctuation,
      collation: c.collation,
      numeric: c.numeric,
      caseFirst: c.caseFirst,
    };
  }, 0);
  defineConstructor(Collator, 'Collator', 0);

  // ---- RelativeTimeFormat --------------------------------------------

  const RT_UNITS = ['second', 'minute', 'hour', 'day', 'week', 'month', 'quarter', 'year'];
  const RT_SHORT = { __proto__: null, second: 'sec.', minute: 'min.', hour: 'hr.', day: ['day', 'days'], week: 'wk.', month: 'mo.', quarter: ['qtr.', 'qtrs.'], year: 'yr.' };
  const RT_AUTO = {
    __proto__: null,
    second: { 0: 'now' },
    minute: { 0: 'this minute' },
    hour: { 0: 'this hour' },
    day: { '-1': 'yesterday', 0: 'today', 1: 'tomorrow' },
    week: { '-1': 'last week', 0: 'this week', 1: 'next week' },
    month: { '-1': 'last month', 0: 'this month', 1: 'next month' },
    quarter: { '-1': 'last quarter', 0: 'this quarter', 1: 'next quarter' },
    year: { '-1': 'last year', 0: 'this year', 1: 'next year' },
  };
  function RelativeTimeFormat(locales, options) {
    if (new.target === undefined) throw new $TypeError("Constructor Intl.RelativeTimeFormat requires 'new'");
    const locale = resolveLocale(locales);
    const o = toOptions(options);
    localeMatcher(o);
    getOption(o, 'numberingSystem', 'string', undefined, undefined);
    const style = getOption(o, 'style', 'string', ['long', 'short', 'narrow'], 'long');
    const numeric = getOption(o, 'numeric', 'string', ['always', 'auto'], 'always');
    slots.set(this, { kind: 'RelativeTimeFormat', locale, style, numeric, nf: initNumberFormat(undefined, undefined) });
  }
  // https://tc39.es/ecma402/#sec-PartitionRelativeTimePattern
  const relativeParts = (rt, valueIn, unitIn) => {
    const value = $Number(valueIn);
    if (!NumberIsFinite(value)) throw new $RangeError('Invalid value for RelativeTimeFormat');
    let unit = $String(unitIn);
    if (unit.endsWith('s')) unit = unit.slice(0, -1);
    if (!RT_UNITS.includes(unit)) throw new $RangeError(`Invalid unit argument for format() '${$String(unitIn)}'`);
    if (rt.numeric === 'auto') {
      const key = ObjectIs(value, -0) ? '0' : $String(value);
      const word = RT_AUTO[unit][key];
      if (word !== undefined) return [{ type: 'literal', value: word }];
    }
    const past = value < 0 || ObjectIs(value, -0);
    const numParts = numberParts(rt.nf, MathAbs(value));
    const one = joinParts(numParts) === '1';
    let label;
    if (rt.style === 'long') label = one ? unit : unit + 's';
    else {
      const s = RT_SHORT[unit];
      label = typeof s === 'string' ? s : one ? s[0] : s[1];
    }
    const out = [];
    if (!past) out.push({ type: 'literal', value: 'in ' });
    for (const p of numParts) out.push({ type: p.type, value: p.value, unit });
    out.push({ type: 'literal', value: past ? ` ${label} ago` : ` ${label}` });
    return out;
  };
  method(RelativeTimeFormat.prototype, 'format', function format(value, unit) {
    return joinParts(relativeParts(slotOf(this, 'RelativeTimeFormat', 'format'), value, unit));
  }, 2);
  method(RelativeTimeFormat.prototype, 'formatToParts', function formatToParts(value, unit) {
    return relativeParts(slotOf(this, 'RelativeTimeFormat', 'formatToParts'), value, unit);
  }, 2);
  method(RelativeTimeFormat.prototype, 'resolvedOptions', function resolvedOptions() {
    const rt = slotOf(this, 'RelativeTimeFormat', 'resolvedOptions');
    return { locale: rt.locale, style: rt.style, numeric: rt.numeric, numberingSystem: 'latn' };
  }, 0);
  defineConstructor(RelativeTimeFormat, 'RelativeTimeFormat', 0);

  // ---- ListFormat ----------------------------------------------------

  function ListFormat(locales, options) {
    if (new.target === undefined) throw new $TypeError("Constructor Intl.ListFormat requires 'new'");
    const locale = resolveLocale(locales);
    const o = toOptions(options);
    localeMatcher(o);
    const type = getOption(o, 'type', 'string', ['conjunction', 'disjunction', 'unit'], 'conjunction');
    const style = getOption(o, 'style', 'string', ['long', 'short', 'narrow'], 'long');
    slots.set(this, { kind: 'ListFormat', locale, type, style });
  }
  // https://tc39.es/ecma402/#sec-createpartsfromlist
  const listParts = (lf, list) => {
    const items = [];
    if (list !== undefined) {
      for (const v of list) {
        if (typeof v !== 'string') throw new $TypeError(`Iterable yielded ${$String(v)} which is not a string`);
        items.push(v);
      }
    }
    let pair;
    let last;
    let middle = ', ';
    if (lf.type === 'conjunction') {
      const word = lf.style === 'long' ? 'and' : lf.style === 'short' ? '&' : undefined;
      pair = word === undefined ? ', ' : ` ${word} `;
      last = word === undefined ? ', ' : `, ${word} `;
    } else if (lf.type === 'disjunction') {
      pair = ' or ';
      last = ', or ';
    } else {
      middle = pair = last = lf.style === 'narrow' ? ' ' : ', ';
    }
    const out = [];
    for (let i = 0; i < items.length; i++) {
      if (i > 0) out.push({ type: 'literal', value: items.length === 2 ? pair : i === items.length - 1 ? last : middle });
      out.push({ type: 'element', value: items[i] });
    }
    return out;
  };
  method(ListFormat.prototype, 'format', function format(list) {
    return joinParts(listParts(slotOf(this, 'ListFormat', 'format'), list));
  }, 1);
  method(ListFormat.prototype, 'formatToParts', function formatToParts(list) {
    return listParts(slotOf(this, 'ListFormat', 'formatToParts'), list);
  }, 1);
  method(ListFormat.prototype, 'resolvedOptions', function resolvedOptions() {
    const lf = slotOf(this, 'ListFormat', 'resolvedOptions');
    return { locale: lf.locale, type: lf.type, style: lf.style };
  }, 0);
  defineConstructor(ListFormat, 'ListFormat', 0);

  // ---- Segmenter -----------------------------------------------------
  //
  // An approximation of UAX #29, not the full rule set: a grapheme is a
  // code point with its following combining marks, variation selectors,
  // emoji modifiers and ZWJ-joined code points (plus CR LF and regional
  // indicator pairs); a word-like segment is a run of letters, marks,
  // digits and underscores (joined across ' ’ . inside the run), spaces
  // group together and anything else is a segment of its own; a sentence
  // ends after . ! ? (with closing quotes and trailing whitespace).

  const GRAPHEME = /\r\n|\p{Regional_Indicator}{2}|(?:\P{M}|\p{M})(?:[\p{M}\u200d\u{1f3fb}-\u{1f3ff}\u{e0020}-\u{e007f}]|(?<=\u200d)\P{M})*/uy;
  const WORD = /([\p{L}\p{M}\p{N}_]+(?:['’.:][\p{L}\p{M}\p{N}_]+)*)|([^\S\r\n]+)|(\r\n|[\s\S])/uy;
  const SENTENCE = /[^.!?]*(?:[.!?]+["'”’)\]]*\s*|$)/uy;
  function Segmenter(locales, options) {
    if (new.target === undefined) throw new $TypeError("Constructor Intl.Segmenter requires 'new'");
    const locale = resolveLocale(locales);
    const o = toOptions(options);
    localeMatcher(o);
    const granularity = getOption(o, 'granularity', 'string', ['grapheme', 'word', 'sentence'], 'grapheme');
    slots.set(this, { kind: 'Segmenter', locale, granularity });
  }
  const segmentAt = (granularity, input, index) => {
    const re = granularity === 'grapheme' ? GRAPHEME : granularity === 'word' ? WORD : SENTENCE;
    re.lastIndex = index;
    const m = re.exec(input);
    let text = m === null || m[0] === '' ? input.slice(index, index + 1) : m[0];
    if (granularity === 'grapheme' && m !== null) {
      // A ZWJ joins the code point after it, plus that one's marks.
      while (text.endsWith('\u200d') && index + text.length < input.length) {
        re.lastIndex = index + text.length;
        const more = re.exec(input);
        if (more === null) break;
        text += more[0];
      }
    }
    const seg = { segment: text, index, input };
    if (granularity === 'word') seg.isWordLike = m !== null && m[1] !== undefined;
    return seg;
  };
  const SegmentsPrototype = {};
  const SegmentIteratorPrototype = { __proto__: $.IteratorPrototype };
  method(SegmentsPrototype, 'containing', function containing(indexIn) {
    const s = slotOf(this, 'Segments', 'containing');
    let n = $Number(indexIn);
    n = NumberIsNaN(n) ? 0 : Math.trunc(n);
    if (n < 0 || n >= s.input.length) return undefined;
    let i = 0;
    for (;;) {
      const seg = segmentAt(s.granularity, s.input, i);
      if (n < i + seg.segment.length) return seg;
      i += seg.segment.length;
    }
  }, 1);
  method(SegmentsPrototype, SymbolIterator, function segments() {
    const s = slotOf(this, 'Segments', '[Symbol.iterator]');
    const it = { __proto__: SegmentIteratorPrototype };
    slots.set(it, { kind: 'SegmentIterator', granularity: s.granularity, input: s.input, pos: 0 });
    return it;
  }, 0);
  method(SegmentIteratorPrototype, 'next', function next() {
    const it = slotOf(this, 'SegmentIterator', 'next');
    if (it.pos >= it.input.length) return { value: undefined, done: true };
    const seg = segmentAt(it.granularity, it.input, it.pos);
    it.pos += seg.segment.length;
    return { value: seg, done: false };
  }, 0);
  tag(SegmentIteratorPrototype, 'Segmenter String Iterator');
  method(Segmenter.prototype, 'segment', function segment(string) {
    const sg = slotOf(this, 'Segmenter', 'segment');
    const segments = { __proto__: SegmentsPrototype };
    slots.set(segments, { kind: 'Segments', granularity: sg.granularity, input: $String(string) });
    return segments;
  }, 1);
  method(Segmenter.prototype, 'resolvedOptions', function resolvedOptions() {
    const sg = slotOf(this, 'Segmenter', 'resolvedOptions');
    return { locale: sg.locale, granularity: sg.granularity };
  }, 0);
  defineConstructor(Segmenter, 'Segmenter', 0);

  // ---- Intl ----------------------------------------------------------

  const Intl = {};
  tag(Intl, 'Intl');
  method(Intl, 'getCanonicalLocales', function getCanonicalLocales(locales) {
    return canonicalizeLocaleList(locales);
  }, 1);
  // https://tc39.es/ecma402/#sec-intl.supportedvaluesof
  const SUPPORTED = {
    __proto__: null,
    calendar: ['gregory'],
    collation: [],
    currency: ['EUR', 'GBP', 'JPY', 'USD'],
    numberingSystem: ['latn'],
    timeZone: ['UTC'],
    unit: [],
  };
  method(Intl, 'supportedValuesOf', function supportedValuesOf(key) {
    const k = $String(key);
    const list = SUPPORTED[k];
    if (list === undefined) throw new $RangeError(`Invalid key : ${k}`);
    return list.slice();
  }, 1);
  for (const [name, C] of [
    ['Collator', Collator],
    ['DateTimeFormat', DateTimeFormat],
    ['ListFormat', ListFormat],
    ['NumberFormat', NumberFormat],
    ['PluralRules', PluralRules],
    ['RelativeTimeFormat', RelativeTimeFormat],
    ['Segmenter', Segmenter],
  ]) {
    ObjectDefineProperty(Intl, name, { value: C, writable: true, enumerable: false, configurable: true });
  }

  // ---- the built-ins' locale-sensitive methods (wrappers in intl.rs) ---

  // Formatters for the common no-argument calls, made once.
  let defaultNumber;
  let defaultCollator;
  const defaultDates = { __proto__: null };
  hooks.number = function toLocaleString(locales, options) {
    const x = ReflectApply(numberValue, this, []);
    if (locales === undefined && options === undefined) {
      defaultNumber ??= initNumberFormat(undefined, undefined);
      return joinParts(numberParts(defaultNumber, x));
    }
    return joinParts(numberParts(initNumberFormat(locales, options), x));
  };
  hooks.bigint = function toLocaleString(locales, options) {
    const x = ReflectApply(bigintValue, this, []);
    return joinParts(numberParts(initNumberFormat(locales, options), x));
  };
  // https://tc39.es/ecma402/#sup-date.prototype.tolocalestring
  const dateHook = (required, defaults) =>
    function (locales, options) {
      const t = ReflectApply(dateValue, this, []);
      if (NumberIsNaN(t)) return 'Invalid Date';
      let f;
      if (locales === undefined && options === undefined) {
        f = defaultDates[required] ??= initDateTimeFormat(undefined, undefined, required, defaults);
      } else {
        f = initDateTimeFormat(locales, options, required, defaults);
      }
      return joinParts(dateTimeParts(f, t));
    };
  hooks.dateString = dateHook('any', 'all');
  hooks.dateDate = dateHook('date', 'date');
  hooks.dateTime = dateHook('time', 'time');
  hooks.compare = function localeCompare(that, locales, options) {
    if (this === undefined || this === null) throw new $TypeError('String.prototype.localeCompare called on null or undefined');
    const s = $String(this);
    const t = $String(that);
    if (locales === undefined && options === undefined) {
      defaultCollator ??= new Collator();
      return collate(slots.get(defaultCollator), s, t);
    }
    return collate(slots.get(new Collator(locales, options)), s, t);
  };
  ObjectFreeze(hooks);

  return { Intl };
})
