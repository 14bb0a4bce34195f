-- Stations opened this week: in this week's roster, not in the previous week's.
-- Reproduces: the dashboard's "opened this week", from the project's own persisted roster.
-- Definition notes: deliberately NOT from created_at or AFDC Open Date (both unreliable proxies).
--   A station that comes back after a gap counts as opened again.
-- Last synced: 2026-12-04.
SELECT r.country AS country, r.is_tesla AS is_tesla, COUNT(*) AS opened_this_week
FROM pulse_tracked_roster r
WHERE r.week_start = %(week_start)s
  AND NOT EXISTS (
      SELECT 1 FROM pulse_tracked_roster prev
      WHERE prev.week_start = %(previous_week_start)s AND prev.station_id = r.station_id
  )
GROUP BY r.country, r.is_tesla
ORDER BY r.country, r.is_tesla
