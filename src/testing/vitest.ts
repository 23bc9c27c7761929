/**
 * vitest for the conformance suites of `mailpush/testing/conformance`, loaded so that a
 * project without it gets one MISSING_DEPENDENCY error naming the install command instead of
 * Node's raw ERR_MODULE_NOT_FOUND.
 *
 * @module
 * @internal
 */

import { importOptionalAll } from '../deps/optional.js';

const [vitest] = await importOptionalAll('mailpush/testing/conformance (the conformance suites)', [{ pkg: 'vitest', load: () => import('vitest') }], true);

export const { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } = vitest;
