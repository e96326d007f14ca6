// The official JavaScript client's side of `make bench`, for ratios measured
// in the same run:  node official_client.mjs URL sequential N
//                   node official_client.mjs URL concurrent N IN_FLIGHT
import { Client } from '@elastic/elasticsearch'

const [url, mode, nArg, inFlightArg] = process.argv.slice(2)
const n = Number(nArg)
const client = new Client({ node: url })
const call = () => client.connector.updateApiKeyId({ connector_id: 'bench', api_key_id: 'k' })

async function sequential (count) {
  for (let i = 0; i < count; i++) await call()
}

// IN_FLIGHT promises, each taking the next call until N are done.
async function concurrent (count, inFlight) {
  let next = 0
  const worker = async () => { while (next++ < count) await call() }
  await Promise.all(Array.from({ length: inFlight }, worker))
}

const run = mode === 'sequential' ? (c) => sequential(c) : (c) => concurrent(c, Number(inFlightArg))
await run(Math.min(n, 200)) // connect and warm up
const t0 = performance.now()
await run(n)
const ms = performance.now() - t0
console.log(JSON.stringify({ mode, calls: n, calls_per_s: Math.floor(n / ms * 1000) }))
await client.close()
