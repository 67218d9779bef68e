-- What each applicant has used of each month (RESERVED plus COMMITTED), kept up to date by every
-- reservation and release, so a reservation checks its limit against one row it locks instead
-- of summing the month's reservations.
ALTER TABLE budget_months ADD COLUMN used_minor bigint NOT NULL DEFAULT 0
    CONSTRAINT budget_months_used_not_negative CHECK (used_minor >= 0);
UPDATE budget_months AS month
SET used_minor = COALESCE((
    SELECT sum(reservation.amount_minor) FROM reservations AS reservation
    WHERE reservation.applicant = month.applicant AND reservation.month = month.month
      AND reservation.state <> 'RELEASED'), 0);
