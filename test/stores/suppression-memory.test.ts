import memorySuppressionStore from '../../src/stores/suppression-memory.js';
import { testSuppressionStore } from '../../src/testing/suppression-store-conformance.js';

testSuppressionStore({ name: 'memory suppression store', create: () => memorySuppressionStore() });
