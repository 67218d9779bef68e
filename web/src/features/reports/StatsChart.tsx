import { Alert, Group, Loader, Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import {
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import { type ApplicationStatus, STATUSES } from '../../lib/api/rest';
import { type DayStatusStats, useStats } from './api';

const COLORS: Record<ApplicationStatus, string> = {
  NEW: '#228be6',
  PROCESSING: '#fab005',
  COMPLETED: '#12b886',
  CANCELLED: '#868e96',
  REJECTED: '#fa5252',
};

type ChartRow = { day: string } & Partial<Record<ApplicationStatus, number>>;

/** Rows of the chart: one per day, a count per status. */
export function chartRows(stats: DayStatusStats[]): ChartRow[] {
  const days = new Map<string, ChartRow>();
  for (const entry of stats) {
    const day = entry.day.slice(0, 10);
    const row = days.get(day) ?? { day };
    row[entry.status] = (row[entry.status] ?? 0) + entry.count;
    days.set(day, row);
  }
  return [...days.values()].sort((a, b) => a.day.localeCompare(b.day));
}

export function StatsChart({ appliedFrom, appliedTo }: { appliedFrom: string; appliedTo: string }) {
  const { t } = useTranslation();
  const stats = useStats(appliedFrom, appliedTo);
  if (stats.isPending) return <Loader size="sm" aria-label={t('common.loading')} />;
  if (stats.error) {
    return <Alert color="gray">{t('chart.unavailable', { message: stats.error.message })}</Alert>;
  }
  const rows = chartRows(stats.data);
  if (rows.length === 0) return <Text c="dimmed">{t('chart.empty')}</Text>;
  const totals = STATUSES.map((status) => ({
    status,
    count: rows.reduce((sum, row) => sum + (row[status] ?? 0), 0),
  })).filter((total) => total.count > 0);
  return (
    <figure style={{ margin: 0 }} data-testid="stats-chart">
      <div style={{ width: '100%', height: 280 }} role="img" aria-label={t('chart.label')}>
        <ResponsiveContainer>
          <BarChart data={rows} margin={{ top: 8, right: 8, bottom: 8, left: 0 }}>
            <CartesianGrid strokeDasharray="3 3" />
            <XAxis dataKey="day" fontSize={11} />
            <YAxis allowDecimals={false} fontSize={11} width={36} />
            <Tooltip />
            <Legend />
            {STATUSES.map((status) => (
              <Bar
                key={status}
                dataKey={status}
                name={t(`status.${status}`)}
                stackId="status"
                fill={COLORS[status]}
                isAnimationActive={false}
              />
            ))}
          </BarChart>
        </ResponsiveContainer>
      </div>
      <figcaption>
        <Group gap="md">
          {totals.map((total) => (
            <Text size="sm" key={total.status}>
              {t(`status.${total.status}`)}: {total.count}
            </Text>
          ))}
        </Group>
      </figcaption>
    </figure>
  );
}
