import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import type { InsightsReport } from '../../insights/insights-report.ts';
import type { WhatIfResult } from '../../insights/what-if.ts';
import { ActionError, act, type Session, startPage } from './api.ts';
import { addDaysTo, localDate } from './format.ts';

type Grain = 'day' | 'week' | 'month';
interface Query {
  from: string;
  to: string;
  grain: Grain;
}

const pct = (u: number | null) => (u === null ? '—' : `${Math.round(u * 100)}%`);
const hours = (minutes: number) => (minutes / 60).toFixed(minutes >= 600 ? 0 : 1);
const label = (period: string, grain: Grain) => {
  const d = new Date(`${period}T12:00:00Z`);
  if (grain === 'month') return d.toLocaleDateString('en-GB', { month: 'short', year: 'numeric', timeZone: 'UTC' });
  const text = d.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' });
  return grain === 'week' ? `wk ${text}` : text;
};

/** The root font size: charts are drawn on a canvas and must grow with the page for the wall screen. */
const fontPx = () => Number.parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;

/**
 * A uPlot chart that fills its box and follows its width (a tablet turned, a window resized).
 * uPlot draws on a canvas: fast with hundreds of rooms, and its axes are given the page's font.
 */
function Chart({
  options,
  data,
  label: name,
}: {
  options: Omit<uPlot.Options, 'width' | 'height'>;
  data: uPlot.AlignedData;
  label: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current!;
    const height = Math.round(fontPx() * 16);
    const chart = new uPlot({ ...options, width: el.clientWidth, height }, data, el);
    const resize = new ResizeObserver(() => chart.setSize({ width: el.clientWidth, height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      chart.destroy();
    };
  }, [options, data]);
  return <div class="chart" ref={box} role="img" aria-label={name} />;
}

/** Axis text in the page's font at 90 %: the y axis wide enough for "100%", the x axis for a date. */
function axisStyle(which: 'x' | 'y'): Partial<uPlot.Axis> {
  const px = Math.round(fontPx() * 0.9);
  return {
    font: `${px}px system-ui, sans-serif`,
    stroke: '#17202a',
    grid: { stroke: '#e3e8ed', width: 1 },
    ticks: { stroke: '#d5dbe1', width: 1 },
    size: which === 'y' ? px * 4.4 : px * 2.8,
    gap: px * 0.4,
  };
}

/**
 * Utilisation bars, one per labelled item (a period, a room), on a 0–100 % scale so that two
 * charts and two periods compare at a glance. `label(i)` names the i-th bar ('' to skip its tick).
 */
function UtilisationBars(p: { values: (number | null)[]; label: (i: number) => string; colour: [string, string]; name: string }) {
  const data: uPlot.AlignedData = [p.values.map((_, i) => i), p.values.map((u) => (u === null ? null : u * 100))];
  const options: Omit<uPlot.Options, 'width' | 'height'> = {
    legend: { show: false },
    cursor: { show: false },
    scales: { x: { time: false, range: (_u, min, max) => [min - 0.6, max + 0.6] }, y: { range: [0, 100] } },
    axes: [
      {
        ...axisStyle('x'),
        values: (_u, splits) => splits.map((s) => (Number.isInteger(s) && s >= 0 && s < p.values.length ? p.label(s) : '')),
      },
      { ...axisStyle('y'), values: (_u, splits) => splits.map((s) => `${s}%`) },
    ],
    series: [
      {},
      {
        label: 'Booked',
        stroke: p.colour[0],
        fill: p.colour[1],
        width: 0,
        paths: uPlot.paths.bars!({ size: [0.7, 80] }),
        points: { show: false },
      },
    ],
  };
  return <Chart options={options} data={data} label={p.name} />;
}

/** The clinic's utilisation per period (booked minutes over open minutes, every room together). */
function ClinicChart({ report }: { report: InsightsReport }) {
  const rows = report.clinic;
  return (
    <UtilisationBars
      values={rows.map((r) => r.utilisation)}
      label={(i) => label(rows[i]!.period, report.grain)}
      colour={['#1f5fbf', 'rgba(31,95,191,0.55)']}
      name={`Clinic utilisation per ${report.grain}`}
    />
  );
}

/** Each room over the whole period: the busiest and the idle ones at a glance (every n-th name on a hospital's). */
function RoomChart({ report }: { report: InsightsReport }) {
  const rows = report.roomTotals;
  const every = Math.max(1, Math.ceil(rows.length / 30));
  return (
    <UtilisationBars
      values={rows.map((r) => r.utilisation)}
      label={(i) => (i % every === 0 ? rows[i]!.room : '')}
      colour={['#1b7f4b', 'rgba(27,127,75,0.6)']}
      name="Utilisation per room over the period"
    />
  );
}

function Tiles({ report }: { report: InsightsReport }) {
  const sum = (f: (r: InsightsReport['clinic'][number]) => number) => report.clinic.reduce((n, r) => n + f(r), 0);
  const open = sum((r) => r.openMinutes);
  const booked = sum((r) => r.bookedMinutes);
  const waited = sum((r) => r.waited);
  const longest = Math.max(0, ...report.clinic.map((r) => r.waitMinutesMax));
  const writes = report.writeBack.reduce((n, w) => n + w.writes, 0);
  const slowest = Math.max(0, ...report.writeBack.map((w) => w.p95Seconds));
  const tiles: [string, string, string][] = [
    ['Rooms in use', open ? pct(booked / open) : '—', `${hours(booked)} of ${hours(open)} open hours booked`],
    [
      'Bookable gaps',
      `${hours(sum((r) => r.idleGapMinutes))} h`,
      `${sum((r) => r.idleGaps)} gaps of ${report.minimumGapMinutes} min or more`,
    ],
    ['Appointments', String(sum((r) => r.bookings)), `${hours(sum((r) => r.cleaningMinutes))} h of cleaning between them`],
    ['No-shows', String(sum((r) => r.noShows)), 'marked in Cal.com'],
    ['Waited for a room', String(waited), waited ? `longest ${longest} min` : 'every booking had one at once'],
    ['Still without a room', String(report.withoutRoom.reduce((n, w) => n + w.bookings, 0)), 'needed one and never got it'],
    ['Moved by re-planning', String(sum((r) => r.movesOut)), 'out of a room that became unusable'],
    ['Rooms written to Cal.com', String(writes), writes ? `95% within ${slowest} s` : 'none in this period'],
  ];
  return (
    <ul class="tiles">
      {tiles.map(([name, value, note]) => (
        <li key={name}>
          <span class="tile-name">{name}</span>
          <strong class="tile-value">{value}</strong>
          <span class="tile-note">{note}</span>
        </li>
      ))}
    </ul>
  );
}

function RoomTable({ report }: { report: InsightsReport }) {
  return (
    <div class="table-scroll">
      <table class="figures">
        <caption>
          Rooms, {report.from} to {report.to}
        </caption>
        <thead>
          <tr>
            <th scope="col">Room</th>
            <th scope="col">In use</th>
            <th scope="col">Booked h</th>
            <th scope="col">Open h</th>
            <th scope="col">Appointments</th>
            <th scope="col">Cleaning h</th>
            <th scope="col">Bookable gaps</th>
            <th scope="col">No-shows</th>
            <th scope="col">Waited</th>
            <th scope="col">Moved out</th>
          </tr>
        </thead>
        <tbody>
          {report.roomTotals.map((r) => (
            <tr key={r.room}>
              <th scope="row">{r.room}</th>
              <td class="use">
                <span class="meter" aria-hidden="true">
                  <span style={{ width: `${Math.min(100, Math.round((r.utilisation ?? 0) * 100))}%` }} />
                </span>
                {pct(r.utilisation)}
              </td>
              <td>{hours(r.bookedMinutes)}</td>
              <td>{hours(r.openMinutes)}</td>
              <td>{r.bookings}</td>
              <td>{hours(r.cleaningMinutes)}</td>
              <td>{r.idleGaps ? `${r.idleGaps} · ${hours(r.idleGapMinutes)} h` : '—'}</td>
              <td>{r.noShows || '—'}</td>
              <td>{r.waited ? `${r.waited} · max ${r.waitMinutesMax} min` : '—'}</td>
              <td>{r.movesOut || '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function DoctorTable({ report }: { report: InsightsReport }) {
  const byDoctor = new Map<string, { bookings: number; minutes: number; rooms: number; noShows: number; waited: number }>();
  for (const d of report.doctors) {
    const t = byDoctor.get(d.doctor) ?? { bookings: 0, minutes: 0, rooms: 0, noShows: 0, waited: 0 };
    byDoctor.set(d.doctor, {
      bookings: t.bookings + d.bookings,
      minutes: t.minutes + d.bookedMinutes,
      rooms: Math.max(t.rooms, d.rooms),
      noShows: t.noShows + d.noShows,
      waited: t.waited + d.waited,
    });
  }
  if (!byDoctor.size) return <p class="empty">No appointments in rooms in this period.</p>;
  return (
    <div class="table-scroll">
      <table class="figures">
        <caption>Doctors</caption>
        <thead>
          <tr>
            <th scope="col">Doctor</th>
            <th scope="col">Appointments</th>
            <th scope="col">Hours</th>
            <th scope="col">Most rooms in one {report.grain}</th>
            <th scope="col">No-shows</th>
            <th scope="col">Waited for a room</th>
          </tr>
        </thead>
        <tbody>
          {[...byDoctor].map(([doctor, t]) => (
            <tr key={doctor}>
              <th scope="row">{doctor}</th>
              <td>{t.bookings}</td>
              <td>{hours(t.minutes)}</td>
              <td>{t.rooms}</td>
              <td>{t.noShows || '—'}</td>
              <td>{t.waited || '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** What-if: the same period replayed with other rooms, side by side with what happened. */
function WhatIf({ session, report, rooms }: { session: Session; report: InsightsReport; rooms: string[] }) {
  const [without, setWithout] = useState<string[]>([]);
  const [added, setAdded] = useState('');
  const [cleaning, setCleaning] = useState('');
  const [openHours, setOpenHours] = useState('');
  const [state, setState] = useState<{ running?: boolean; result?: WhatIfResult; error?: string }>({});
  const [from, to] = [report.from, report.to];
  const tooLong = (Date.parse(to) - Date.parse(from)) / 86_400_000 >= 92;
  const run = async (e: Event) => {
    e.preventDefault();
    setState({ running: true });
    const add = added
      .split(';')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((spec) => {
        const [name = '', equipment = ''] = spec.split(/\s+/, 2);
        return { name, equipment: equipment.split(',').filter(Boolean) };
      });
    const change = [
      ...(cleaning ? [{ room: '*', cleaningMinutes: Number(cleaning) }] : []),
      ...(openHours ? [{ room: '*', openHours }] : []),
    ];
    try {
      setState({ result: await act<WhatIfResult>(session, '/board/api/what-if', { from, to, without, add, change }) });
    } catch (error) {
      setState({ error: error instanceof ActionError ? error.message : 'the replay failed' });
    }
  };
  const r = state.result;
  const recorded = new Map(r?.recorded.perRoom.map((x) => [x.room, x]));
  const replayed = new Map(r?.whatIf.perRoom.map((x) => [x.room, x]));
  const names = r ? [...new Set([...recorded.keys(), ...replayed.keys()])].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })) : [];
  return (
    <section class="what-if" aria-labelledby="what-if-title">
      <h2 id="what-if-title">What if the rooms had been different?</h2>
      <p class="muted">
        Replays {from} to {to} through the same planner, in the order things happened, and shows it beside what did. Nothing is changed.
      </p>
      <form onSubmit={run}>
        <fieldset>
          <legend>Take rooms away</legend>
          <div class="room-picks">
            {rooms.map((name) => (
              <label key={name}>
                <input
                  type="checkbox"
                  checked={without.includes(name)}
                  onChange={(e) => setWithout((w) => ((e.target as HTMLInputElement).checked ? [...w, name] : w.filter((x) => x !== name)))}
                />
                {name}
              </label>
            ))}
          </div>
        </fieldset>
        <label>
          Add rooms <span class="muted">(name, then equipment; several with “;”)</span>
          <input value={added} placeholder="4C ecg,xray" onInput={(e) => setAdded((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Cleaning minutes, every room
          <input
            type="number"
            min="0"
            max="240"
            value={cleaning}
            placeholder="as now"
            onInput={(e) => setCleaning((e.target as HTMLInputElement).value)}
          />
        </label>
        <label>
          Opening hours, every room
          <input
            value={openHours}
            placeholder="as now, e.g. 07:00-20:00"
            onInput={(e) => setOpenHours((e.target as HTMLInputElement).value)}
          />
        </label>
        <button type="submit" class="primary" disabled={state.running || tooLong}>
          {state.running ? 'Replaying…' : 'Replay the period'}
        </button>
        {tooLong ? <p class="muted">Choose 92 days or fewer to replay.</p> : null}
      </form>
      {state.error ? (
        <p class="error" role="alert">
          {state.error}
        </p>
      ) : null}
      {r ? (
        <div class="what-if-result" role="status">
          <table class="figures compare">
            <caption>
              {r.bookings} appointments that needed a room · replayed in {r.seconds} s
            </caption>
            <thead>
              <tr>
                <th scope="col" />
                <th scope="col">What happened</th>
                <th scope="col">What if</th>
              </tr>
            </thead>
            <tbody>
              <tr>
                <th scope="row">With a room</th>
                <td>{r.recorded.withRoom}</td>
                <td>{r.whatIf.withRoom}</td>
              </tr>
              <tr class={r.whatIf.withoutRoom > r.recorded.withoutRoom ? 'worse' : ''}>
                <th scope="row">Without a room</th>
                <td>{r.recorded.withoutRoom}</td>
                <td>{r.whatIf.withoutRoom}</td>
              </tr>
              <tr>
                <th scope="row">Moved by re-planning</th>
                <td>{r.recorded.moves}</td>
                <td>{r.whatIf.moves}</td>
              </tr>
              <tr>
                <th scope="row">Waited for a room</th>
                <td>{r.recorded.waited}</td>
                <td>{r.whatIf.waited}</td>
              </tr>
            </tbody>
          </table>
          <p>
            {r.differences.otherRoom} in another room · {r.differences.lostRoom} would have had none · {r.differences.gainedRoom} would have
            had one
          </p>
          <table class="figures">
            <caption>Rooms</caption>
            <thead>
              <tr>
                <th scope="col">Room</th>
                <th scope="col">Happened</th>
                <th scope="col">What if</th>
              </tr>
            </thead>
            <tbody>
              {names.map((name) => (
                <tr key={name}>
                  <th scope="row">{name}</th>
                  <td>{recorded.has(name) ? `${recorded.get(name)!.bookings} · ${pct(recorded.get(name)!.utilisation)}` : 'new'}</td>
                  <td>{replayed.has(name) ? `${replayed.get(name)!.bookings} · ${pct(replayed.get(name)!.utilisation)}` : 'taken away'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

function InsightsPage({ session }: { session: Session }) {
  const today = localDate(Date.now() + session.clockOffset, session.timeZone);
  const [q, setQ] = useState<Query>({ from: addDaysTo(today, -27), to: today, grain: 'day' });
  const [state, setState] = useState<{ report?: InsightsReport; error?: string }>({});
  useEffect(() => {
    let current = true;
    const params = new URLSearchParams({ from: q.from, to: q.to, grain: q.grain });
    fetch(`/board/api/insights?${params}`, { credentials: 'same-origin' })
      .then(async (res) => {
        const body = (await res.json()) as { data?: InsightsReport; error?: { message: string } };
        if (!res.ok) throw new Error(body.error?.message ?? String(res.status));
        if (current) setState({ report: body.data! });
      })
      .catch((error: Error) => current && setState((s) => ({ ...s, error: error.message })));
    return () => {
      current = false;
    };
  }, [q]);
  const preset = (from: string, to: string, grain: Grain) => setQ({ from, to, grain });
  const monthStart = `${today.slice(0, 8)}01`;
  const report = state.report;
  const csv = (table: string) => `/board/api/insights.csv?${new URLSearchParams({ table, from: q.from, to: q.to, grain: q.grain })}`;
  return (
    <>
      <header class="top">
        <h1>Insights · {session.title}</h1>
        <nav class="insights-nav" aria-label="Period">
          <button type="button" class="quiet" onClick={() => preset(addDaysTo(today, -27), today, 'day')}>
            Last 4 weeks
          </button>
          <button type="button" class="quiet" onClick={() => preset(monthStart, today, 'day')}>
            This month
          </button>
          <button type="button" class="quiet" onClick={() => preset(addDaysTo(today, -364), today, 'month')}>
            Last 12 months
          </button>
          <label>
            From{' '}
            <input type="date" value={q.from} max={q.to} onChange={(e) => setQ({ ...q, from: (e.target as HTMLInputElement).value })} />
          </label>
          <label>
            to <input type="date" value={q.to} min={q.from} onChange={(e) => setQ({ ...q, to: (e.target as HTMLInputElement).value })} />
          </label>
          <label>
            by{' '}
            <select value={q.grain} onChange={(e) => setQ({ ...q, grain: (e.target as HTMLSelectElement).value as Grain })}>
              <option value="day">day</option>
              <option value="week">week</option>
              <option value="month">month</option>
            </select>
          </label>
        </nav>
        <a class="back" href="/board">
          Room board
        </a>
      </header>
      <main class="insights">
        {state.error ? (
          <p class="error" role="alert">
            {state.error}
          </p>
        ) : null}
        {!report ? (
          <p class="loading">Loading the figures…</p>
        ) : (
          <>
            <p class="period">
              {report.from} to {report.to} · opening hours without holidays and closed days · {report.timeZone}
            </p>
            <Tiles report={report} />
            <div class="charts">
              <figure>
                <figcaption>Rooms in use, per {report.grain}</figcaption>
                <ClinicChart report={report} />
              </figure>
              <figure>
                <figcaption>Each room over the period</figcaption>
                <RoomChart report={report} />
              </figure>
            </div>
            <p class="downloads">
              Download CSV: <a href={csv('rooms')}>rooms per {report.grain}</a> · <a href={csv('clinic')}>clinic per {report.grain}</a> ·{' '}
              <a href={csv('doctors')}>doctors</a> · <a href={csv('write-back')}>Cal.com write-backs</a> ·{' '}
              <a href={csv('without-room')}>without a room</a>
            </p>
            <RoomTable report={report} />
            <DoctorTable report={report} />
            <WhatIf session={session} report={report} rooms={report.roomTotals.map((r) => r.room)} />
          </>
        )}
      </main>
    </>
  );
}

void startPage((root, session) => {
  if (session.role !== 'staff') {
    root.innerHTML = '<p class="loading">Insights are for staff sign-ins. <a href="/board">Back to the board</a></p>';
    return;
  }
  render(<InsightsPage session={session} />, root);
});
