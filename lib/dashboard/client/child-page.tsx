/**
 * A child's page: its numbers, its normal and reduction cell drawings, its accuracy curve, its
 * genotype JSON and the commands that train or transfer its cells.
 */
import { useEffect, useState } from 'preact/hooks';
import type { ChildDetail, RunSummary } from '../protocol.js';
import { childStatus, curveOf, fmtDuration, fmtInt, fmtReward, KNOWN_FIELDS, num, statusDetail } from './format.js';
import { CurvePlot, runColor } from './plots.js';

function CopyButton({ text }: { text: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      class="copy"
      onClick={() => {
        navigator.clipboard?.writeText(text).then(
          () => {
            setDone(true);
            setTimeout(() => setDone(false), 1500);
          },
          () => undefined,
        );
      }}
    >
      {done ? 'copied' : 'copy'}
    </button>
  );
}

/** The page of child `childId` of run `runId`. */
export function ChildPage({ runId, childId, runs }: { runId: string; childId: string; runs: RunSummary[] }) {
  const [detail, setDetail] = useState<ChildDetail | undefined>();
  const [error, setError] = useState<string | undefined>();
  const base = `api/runs/${encodeURIComponent(runId)}/children/${encodeURIComponent(childId)}`;
  useEffect(() => {
    let live = true;
    fetch(base)
      .then(async (r) => {
        const body = (await r.json()) as ChildDetail | { error: string };
        if (!live) return;
        if ('error' in body) setError(body.error);
        else {
          setDetail(body);
          setError(undefined);
        }
      })
      .catch((err: Error) => live && setError(err.message));
    return () => {
      live = false;
    };
  }, [base]);

  if (error) {
    return (
      <main class="child-page">
        <a href="#/">← all children</a>
        <p class="error">{error}</p>
      </main>
    );
  }
  if (!detail) return <main class="child-page">loading…</main>;
  const { row, run } = detail;
  const color = runColor(runs, run.id);
  const status = childStatus(row);
  const facts: [string, string][] = [
    ['reward', fmtReward(num(row, 'reward'))],
    ['final validation accuracy', fmtReward(num(row, 'accuracy'))],
    ['parameters (proxy network)', fmtInt(num(row, 'params'))],
    ['multiply-adds per image', fmtInt(num(row, 'multAdds'))],
    ['training time', fmtDuration(num(row, 'seconds'))],
    ['worker', typeof row.worker === 'string' ? row.worker : '–'],
    ['status', status === 'ok' ? 'ok' : `${status}: ${statusDetail(row)}`],
    ['finished', typeof row.finishedAt === 'string' ? new Date(row.finishedAt).toLocaleString() : '–'],
    ['strategy', typeof row.strategy === 'string' ? row.strategy : (run.strategy ?? '–')],
    ['canonical hash', typeof row.hash === 'string' ? row.hash : '–'],
    ['history.jsonl line', String(row.line)],
  ];
  for (const [k, v] of Object.entries(row)) {
    if (!KNOWN_FIELDS.has(k) && v !== undefined && v !== null) facts.push([k, typeof v === 'object' ? JSON.stringify(v) : String(v)]);
  }
  const genotypeText = JSON.stringify(detail.genotype, null, 2);
  return (
    <main class="child-page" data-child={String(row.id)}>
      <p>
        <a href="#/">← all children</a>
      </p>
      <h2>
        <i class="swatch" style={{ background: color }} /> child {String(row.id)} of {run.name}
        <span class={`status status-${status}`}>{status}</span>
      </h2>
      <div class="child-grid">
        <table class="facts">
          <tbody>
            {facts.map(([k, v]) => (
              <tr key={k}>
                <th>{k}</th>
                <td>{v}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <CurvePlot curve={curveOf(row)} color={color} />
      </div>
      {detail.earlier.length > 0 ? (
        <p class="muted">
          {detail.earlier.length} earlier record(s) of this child: rewards {detail.earlier.map((e) => fmtReward(num(e, 'reward'))).join(', ')}
        </p>
      ) : null}
      {detail.genotype === undefined ? (
        <p class="muted">this record holds no genotype</p>
      ) : (
        <>
          <h3>Cells</h3>
          <div class="cells">
            <figure>
              <img src={`${base}/cells/normal.svg`} alt={`normal cell of child ${String(row.id)}`} />
              <figcaption>normal cell</figcaption>
            </figure>
            <figure>
              <img src={`${base}/cells/reduction.svg`} alt={`reduction cell of child ${String(row.id)}`} />
              <figcaption>reduction cell</figcaption>
            </figure>
          </div>
          <h3>Commands</h3>
          <ul class="commands">
            {detail.commands.map((c) => (
              <li key={c.command}>
                <span>{c.what}</span>
                <div class="command">
                  <code>{c.command}</code>
                  <CopyButton text={c.command} />
                </div>
              </li>
            ))}
          </ul>
          <h3>
            Genotype <a href={`${base}/genotype.json`}>download</a>
          </h3>
          <pre class="genotype">{genotypeText}</pre>
        </>
      )}
    </main>
  );
}
