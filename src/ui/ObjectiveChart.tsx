// Live KTO, ORPO and GRPO charts: the step figures each objective reports under TRL's names. KTO: the
// rewards of desirable and undesirable answers and their margin, and the KL estimate; ORPO: the
// rewards (lambda x mean log-prob), the log odds ratio term and the NLL; GRPO: the mean reward and its
// spread, the KL to the base and the completion length. Nothing for other objectives.
import { useApp } from '../store/app-store';
import { trainingSeries } from '../store/train-series';
import { SeriesPlot, type PlotData, type PlotLine } from './SeriesPlot';

interface FigureLine extends PlotLine {
  figure: string;
}

function read(lines: FigureLine[]) {
  return (): PlotData => {
    const points = trainingSeries.figureTrain ?? [];
    return { x: points.map((p) => p.step), ys: lines.map((l) => points.map((p) => p.figures[l.figure] ?? null)) };
  };
}

function FigurePlot({ label, lines, height }: { label: string; lines: FigureLine[]; height: number }) {
  return <SeriesPlot label={label} lines={lines} height={height} read={read(lines)} />;
}

const REWARDS: FigureLine[] = [
  { label: 'reward chosen', stroke: '#059669', figure: 'rewards_chosen' },
  { label: 'reward rejected', stroke: '#dc2626', figure: 'rewards_rejected' },
  { label: 'margin', stroke: '#4f46e5', figure: 'rewards_margins' },
];

export function ObjectiveChart() {
  const objective = useApp((s) => s.train.objective);
  if (objective === 'kto') {
    return (
      <section aria-label="KTO metrics">
        <FigurePlot label="KTO rewards chart" height={200} lines={REWARDS} />
        <FigurePlot label="KTO KL estimate chart" height={130} lines={[{ label: 'KL estimate', stroke: '#d97706', figure: 'kl' }]} />
        <p className="muted">
          Rewards are beta × (log p<sub>tuned</sub> − log p<sub>base</sub>) of the answers rated good (chosen) and bad (rejected);
          the KL estimate is the same gap on mismatched prompt / answer pairs, clamped at 0. All start at 0, so the first loss is 0.5.
        </p>
      </section>
    );
  }
  if (objective === 'orpo') {
    return (
      <section aria-label="ORPO metrics">
        <FigurePlot label="ORPO rewards chart" height={200} lines={REWARDS} />
        <FigurePlot
          label="ORPO odds chart"
          height={150}
          lines={[
            { label: 'log odds ratio term', stroke: '#d97706', figure: 'log_odds_ratio' },
            { label: 'NLL of chosen', stroke: '#2563eb', figure: 'nll_loss' },
          ]}
        />
        <p className="muted">
          Rewards are lambda × the mean log-probability of each answer; the odds ratio term is log σ(log odds of chosen over
          rejected), which rises towards 0 as the chosen answer becomes the likelier one. No reference model is used.
        </p>
      </section>
    );
  }
  if (objective === 'grpo') return <GrpoCharts />;
  return null;
}

/** GRPO's figures under TRL's names, and a warning when a step's groups all scored alike (nothing to learn). */
function GrpoCharts() {
  const lastFigures = useApp((s) => s.lastStep?.figures);
  const flat = lastFigures !== undefined && lastFigures.frac_reward_zero_std === 1;
  return (
    <section aria-label="GRPO metrics">
      <FigurePlot
        label="GRPO reward chart"
        height={200}
        lines={[
          { label: 'mean reward', stroke: '#059669', figure: 'reward' },
          { label: 'reward std', stroke: '#9333ea', figure: 'reward_std' },
        ]}
      />
      <FigurePlot label="GRPO KL chart" height={130} lines={[{ label: 'KL to the base', stroke: '#d97706', figure: 'kl' }]} />
      <FigurePlot label="GRPO completion length chart" height={130} lines={[{ label: 'completion length (tokens)', stroke: '#2563eb', figure: 'completion_length' }]} />
      {flat ? (
        <p role="status" className="error">
          Every group of the last step scored alike (reward std 0 within each prompt's completions): its advantages are 0 and the step learned nothing. Check that the reward can tell answers apart, or raise the temperature.
        </p>
      ) : null}
      <p className="muted">
        The mean reward of the sampled completions should rise; KL is the per-token gap to the base (the adapter switched off), held
        back by the KL weight. There is no held-out loss for GRPO: the samples and the reward are its evaluation.
      </p>
    </section>
  );
}
