-- Up Migration
-- HubSpot email activity logging carries ColdCopy's id of each email in the custom engagement
-- property coldcopy_email_id, which a customer's portal does not have until we create it (HubSpot
-- refuses creates and searches that name an unknown property). The worker checks and creates it
-- through the properties API before the connection's first activity batch and records that here,
-- so it is one check per connection, not per run; it clears the mark when HubSpot answers that the
-- property is missing (deleted in the portal), and a reconnection to another portal clears it too.
ALTER TABLE integration_connections ADD COLUMN email_property_ready_at timestamptz;
