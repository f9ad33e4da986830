-- Orleans ADO.NET cluster membership on PostgreSQL, version 1 (Microsoft.Orleans.Clustering.AdoNet 10.4.2).
-- Applied by the PostgreSQL migration "Clustering"; every statement can run again without harm.
--
-- The provider runs only the queries it finds in OrleansQuery (QueryKey, QueryText), by key, with the parameters
-- @DeploymentId (the cluster id), @Address, @Port, @Generation, @SiloName, @HostName, @Status, @ProxyPort,
-- @SuspectTimes, @StartTime, @IAmAliveTime and @Version (the membership table's version), and reads the columns
-- by name. Inserts and updates of a silo's row succeed only against the table version the silo last read, and
-- bump it in the same statement: they answer 1, or 0 when another silo changed the table first.

CREATE TABLE IF NOT EXISTS orleans_membership_version
(
    deployment_id varchar(150) PRIMARY KEY,
    changed_at    timestamptz  NOT NULL DEFAULT now(),
    version       integer      NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS orleans_membership
(
    deployment_id   varchar(150) NOT NULL REFERENCES orleans_membership_version (deployment_id) ON DELETE CASCADE,
    address         varchar(45)  NOT NULL,
    port            integer      NOT NULL,
    generation      integer      NOT NULL,
    silo_name       varchar(150) NOT NULL,
    host_name       varchar(150) NOT NULL,
    status          integer      NOT NULL,
    proxy_port      integer      NULL,
    suspect_times   text         NULL,
    start_time      timestamptz  NOT NULL,
    i_am_alive_time timestamptz  NOT NULL,
    PRIMARY KEY (deployment_id, address, port, generation)
);

CREATE TABLE IF NOT EXISTS OrleansQuery
(
    QueryKey  varchar(64) PRIMARY KEY,
    QueryText text        NOT NULL
);

-- The version row is locked first: of two silos writing against one table version, one inserts, the other gets 0
-- and nothing changes.
CREATE OR REPLACE FUNCTION loko_orleans_insert_member(
    p_deployment text, p_address text, p_port integer, p_generation integer, p_silo_name text, p_host_name text,
    p_status integer, p_proxy_port integer, p_start_time timestamptz, p_i_am_alive_time timestamptz, p_version integer)
RETURNS integer LANGUAGE plpgsql AS $body$
BEGIN
    PERFORM 1 FROM orleans_membership_version WHERE deployment_id = p_deployment AND version = p_version FOR UPDATE;
    IF NOT FOUND THEN RETURN 0; END IF;
    INSERT INTO orleans_membership (deployment_id, address, port, generation, silo_name, host_name, status, proxy_port,
                                    start_time, i_am_alive_time)
    VALUES (p_deployment, p_address, p_port, p_generation, p_silo_name, p_host_name, p_status, p_proxy_port,
            p_start_time, p_i_am_alive_time)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN RETURN 0; END IF;
    UPDATE orleans_membership_version SET version = version + 1, changed_at = now() WHERE deployment_id = p_deployment;
    RETURN 1;
END
$body$;

CREATE OR REPLACE FUNCTION loko_orleans_update_member(
    p_deployment text, p_address text, p_port integer, p_generation integer, p_status integer, p_suspect_times text,
    p_i_am_alive_time timestamptz, p_version integer)
RETURNS integer LANGUAGE plpgsql AS $body$
BEGIN
    PERFORM 1 FROM orleans_membership_version WHERE deployment_id = p_deployment AND version = p_version FOR UPDATE;
    IF NOT FOUND THEN RETURN 0; END IF;
    UPDATE orleans_membership
    SET status = p_status, suspect_times = p_suspect_times, i_am_alive_time = p_i_am_alive_time
    WHERE deployment_id = p_deployment AND address = p_address AND port = p_port AND generation = p_generation;
    IF NOT FOUND THEN RETURN 0; END IF;
    UPDATE orleans_membership_version SET version = version + 1, changed_at = now() WHERE deployment_id = p_deployment;
    RETURN 1;
END
$body$;

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES
('InsertMembershipVersionKey',
 'WITH inserted AS (
      INSERT INTO orleans_membership_version (deployment_id) VALUES (@DeploymentId) ON CONFLICT DO NOTHING RETURNING 1)
  SELECT count(*)::integer FROM inserted;'),
('InsertMembershipKey',
 'SELECT loko_orleans_insert_member(@DeploymentId, @Address, @Port::integer, @Generation::integer, @SiloName, @HostName,
      @Status::integer, @ProxyPort::integer, @StartTime::timestamptz, @IAmAliveTime::timestamptz, @Version::integer);'),
('UpdateMembershipKey',
 'SELECT loko_orleans_update_member(@DeploymentId, @Address, @Port::integer, @Generation::integer, @Status::integer,
      @SuspectTimes, @IAmAliveTime::timestamptz, @Version::integer);'),
('UpdateIAmAlivetimeKey',
 'UPDATE orleans_membership SET i_am_alive_time = @IAmAliveTime
  WHERE deployment_id = @DeploymentId AND address = @Address AND port = @Port AND generation = @Generation;'),
-- The version row comes back even when no silo has a row yet.
('MembershipReadRowKey',
 'SELECT v.deployment_id AS "DeploymentId", m.address AS "Address", m.port AS "Port", m.generation AS "Generation",
         m.silo_name AS "SiloName", m.host_name AS "HostName", m.status AS "Status", m.proxy_port AS "ProxyPort",
         m.suspect_times AS "SuspectTimes", m.start_time AS "StartTime", m.i_am_alive_time AS "IAmAliveTime",
         v.version AS "Version"
  FROM orleans_membership_version v
  LEFT JOIN orleans_membership m ON m.deployment_id = v.deployment_id
       AND m.address = @Address AND m.port = @Port AND m.generation = @Generation
  WHERE v.deployment_id = @DeploymentId;'),
('MembershipReadAllKey',
 'SELECT v.deployment_id AS "DeploymentId", m.address AS "Address", m.port AS "Port", m.generation AS "Generation",
         m.silo_name AS "SiloName", m.host_name AS "HostName", m.status AS "Status", m.proxy_port AS "ProxyPort",
         m.suspect_times AS "SuspectTimes", m.start_time AS "StartTime", m.i_am_alive_time AS "IAmAliveTime",
         v.version AS "Version"
  FROM orleans_membership_version v
  LEFT JOIN orleans_membership m ON m.deployment_id = v.deployment_id
  WHERE v.deployment_id = @DeploymentId;'),
('DeleteMembershipTableEntriesKey',
 'DELETE FROM orleans_membership WHERE deployment_id = @DeploymentId;
  DELETE FROM orleans_membership_version WHERE deployment_id = @DeploymentId;'),
-- Status 3 is Active.
('GatewaysQueryKey',
 'SELECT address AS "Address", proxy_port AS "ProxyPort", generation AS "Generation"
  FROM orleans_membership
  WHERE deployment_id = @DeploymentId AND status = @Status AND proxy_port > 0;'),
('CleanupDefunctSiloEntriesKey',
 'DELETE FROM orleans_membership
  WHERE deployment_id = @DeploymentId AND i_am_alive_time < @IAmAliveTime AND status <> 3;')
ON CONFLICT (QueryKey) DO UPDATE SET QueryText = EXCLUDED.QueryText;
