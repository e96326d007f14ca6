// The same round trips through the official JavaScript client, for a ratio
// measured side by side: node bench/official_client.mjs N
import { Client } from '@elastic/elasticsearch'

const n = Number(process.argv[2] || 2000)
const client = new Client({ node: process.env.ES_URL })
await client.connector.put({ connector_id: 'bench' })
const t0 = performance.now()
for (let i = 1; i <= n; i++) {
  await client.connector.updateApiKeyId({ connector_id: 'bench', api_key_id: 'js' + i })
}
const ms = performance.now() - t0
console.log(JSON.stringify({ calls: n, calls_per_s: Math.floor(n / ms * 1000) }))
await client.close()
