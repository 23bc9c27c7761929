import memoryQueueStore from '../../src/stores/memory.js';
import { testQueueStore } from '../../src/testing/queue-store-conformance.js';

testQueueStore({ name: 'memory queue store', create: () => memoryQueueStore() });
