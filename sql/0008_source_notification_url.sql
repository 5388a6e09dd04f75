-- The URL a PSP signs together with the body (Square signs the notification URL as entered
-- in its webhook subscription, byte for byte). Required for square sources by the API.
alter table gw.sources
  add column notification_url text check (notification_url is null or length(notification_url) between 1 and 2048);
