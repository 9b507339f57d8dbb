-- Capabilities the neural processor inferred from the text of a task submitted
-- without required ones: [{name, probability}], a preference when matching.
ALTER TABLE tasks ADD COLUMN inferred_capabilities jsonb;
