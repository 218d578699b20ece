// llama_logprobs.mjs - the per-token losses that llama.cpp gives a model,
// through node-llama-cpp (its prebuilt CPU binaries; nothing is built or
// downloaded), for tests/llama.sh.
//
//   node llama_logprobs.mjs NODE_DIR MODEL TSV N_CTX BOS [TEXT]
//
// NODE_DIR holds node_modules/node-llama-cpp.  TSV is what `duo score`
// printed for the model (pos, token_id, piece, loss); its tokens are cut
// into windows as duo cuts them (doc/design.md section 4: BOS and up to
// N_CTX - 1 text tokens each), each window evaluated from an empty
// sequence.  Prints "pos<TAB>token_id<TAB>duo_loss<TAB>llama_loss" for
// every token, the llama loss being -ln p of the token from the
// probabilities llama.cpp gives after the tokens before it.  With TEXT,
// also checks that llama.cpp tokenizes the text to the TSV's ids (the
// tokenizer keys of the file): a difference exits 1.
// Exit status: 0, 1 tokenization differs, 99 llama.cpp could not load.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [nodeDir, modelPath, tsvPath, nCtxText, bosText, textPath] =
    process.argv.slice(2);
const nCtx = Number(nCtxText), bos = Number(bosText);
const rows = readFileSync(tsvPath, "utf8").split("\n").slice(1)
    .filter((line) => line !== "").map((line) => line.split("\t"));
const ids = rows.map((fields) => Number(fields[1]));
const duoLosses = rows.map((fields) => Number(fields[fields.length - 1]));

let llama, model, context;
try {
	const lib = await import(pathToFileURL(join(nodeDir,
	    "node_modules/node-llama-cpp/dist/index.js")).href);
	llama = await lib.getLlama({ build: "never", gpu: false,
	    logLevel: lib.LlamaLogLevel.error, progressLogs: false });
	model = await llama.loadModel({ modelPath });
	// keys and values kept in F32, as duo keeps them (llama.cpp's
	// default F16 cache alone moves losses by about 1e-3)
	context = await model.createContext({ contextSize: nCtx,
	    batchSize: nCtx, sequences: 1, threads: 1, flashAttention: false,
	    experimentalKvCacheKeyType: "F32",
	    experimentalKvCacheValueType: "F32" });
} catch (e) {
	console.error(`llama_logprobs: ${e.message}`);
	process.exit(99);
}

let status = 0;
if (textPath !== undefined) {
	const tokens = model.tokenize(readFileSync(textPath, "utf8"), false);
	const same = tokens.length === ids.length &&
	    tokens.every((t, i) => t === ids[i]);
	if (!same) {
		const at = tokens.findIndex((t, i) => t !== ids[i]);
		console.error(`llama_logprobs: llama.cpp tokenizes the text to ` +
		    `${tokens.length} tokens, duo to ${ids.length}; first ` +
		    `difference at token ${at + 1}`);
		status = 1;
	}
}

const sequence = context.getSequence();
const perWindow = nCtx - 1;
const out = [];
for (let start = 0; start < ids.length; start += perWindow) {
	const window = [bos, ...ids.slice(start, start + perWindow)];
	await sequence.clearHistory();
	// the probabilities after each position but the last
	const input = window.map((token, i) => i + 1 < window.length ?
	    [token, { generateNext: { probabilities: true } }] : token);
	const results = await sequence.controlledEvaluate(input);
	for (let i = 1; i < window.length; i++) {
		const p = results[i - 1].next.probabilities.get(window[i]) ?? 0;
		const pos = start + i;
		out.push(`${pos}\t${window[i]}\t${duoLosses[pos - 1]}\t` +
		    `${-Math.log(p)}`);
	}
}
process.stdout.write(out.join("\n") + "\n");
await context.dispose();
await model.dispose();
await llama.dispose();
process.exit(status);
