// Usage over time with Chart.js (only the parts used are registered, so the bundle stays small).
import {
  BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LineController, LineElement,
  PointElement, Title, Tooltip,
} from "chart.js";

Chart.register(
  BarController, BarElement, CategoryScale, Legend, LinearScale, LineController, LineElement,
  PointElement, Title, Tooltip,
);

const COLOURS = {
  ok: "#2e7d32", redirect: "#78909c", client: "#f9a825", server: "#c62828", throttled: "#6a1b9a",
  published: "#1565c0", delivered: "#00838f", dead: "#c62828",
};
const PALETTE = ["#1565c0", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#ad1457", "#5d4037", "#455a64"];
const charts = new Map(); // canvas id -> its Chart, destroyed before the canvas is drawn again

function draw(canvas, config) {
  charts.get(canvas.id)?.destroy();
  // No animation: the chart is complete as soon as it is drawn (what a screenshot or a test sees).
  const options = { animation: false, responsive: true, maintainAspectRatio: false, ...config.options };
  charts.set(canvas.id, new Chart(canvas, { ...config, options }));
}

const series = (label, data, colour, extra = {}) => ({ label, data, backgroundColor: colour, borderColor: colour, ...extra });
const labels = (days) => days.map((d) => d.day.slice(5)); // MM-DD: the range is shown beside the chart

/** Requests per day, stacked by status class (2xx, 3xx, 4xx, 5xx). */
export function requestsChart(canvas, days) {
  draw(canvas, {
    type: "bar",
    data: {
      labels: labels(days),
      datasets: [
        series("2xx", days.map((d) => d.requests_2xx), COLOURS.ok),
        series("3xx", days.map((d) => d.requests_3xx), COLOURS.redirect),
        series("4xx", days.map((d) => d.requests_4xx), COLOURS.client),
        series("5xx", days.map((d) => d.requests_5xx), COLOURS.server),
      ],
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
  });
}

/** Events published and delivered per day, and dead letters. */
export function eventsChart(canvas, days) {
  draw(canvas, {
    type: "line",
    data: {
      labels: labels(days),
      datasets: [
        series("published", days.map((d) => d.events_published), COLOURS.published),
        series("delivered", days.map((d) => d.events_delivered), COLOURS.delivered),
        series("dead letters", days.map((d) => d.dead_letters), COLOURS.dead, { borderDash: [4, 4] }),
      ],
    },
    options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
}

/** Requests refused with 429 per day. */
export function throttledChart(canvas, days) {
  draw(canvas, {
    type: "bar",
    data: { labels: labels(days), datasets: [series("throttled (429)", days.map((d) => d.throttled), COLOURS.throttled)] },
    options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
}

/** Requests per day of every app, stacked by app (the platform admin's overview). */
export function platformChart(canvas, perApp) {
  const apps = Object.keys(perApp).sort();
  const days = apps.length ? perApp[apps[0]] : [];
  draw(canvas, {
    type: "bar",
    data: {
      labels: labels(days),
      datasets: apps.map((app, i) => series(app, perApp[app].map((d) => d.requests), PALETTE[i % PALETTE.length])),
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
  });
}
