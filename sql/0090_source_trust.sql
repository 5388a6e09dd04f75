-- Verify or fetch (README "Verify or fetch"): a source's `trust` says whether processing applies the verified
-- payload (`signature`) or the object's current state read from the PSP's API (`fetch`, which needs the
-- source's API key; the API refuses it for providers without a documented object API).

alter table gw.sources
  add column trust text not null default 'signature';
alter table gw.sources
  add constraint sources_trust_check check (trust in ('signature', 'fetch')) not valid;
alter table gw.sources
  validate constraint sources_trust_check;
alter table gw.sources
  add constraint sources_fetch_needs_api_key check (trust <> 'fetch' or api_key_ciphertext is not null) not valid;
alter table gw.sources
  validate constraint sources_fetch_needs_api_key;

-- PSP object reads per merchant: the calls of the current one-minute window (the limit,
-- SWITCHYARD_PSP_FETCH_PER_MINUTE, holds across processes) and of all time. One row per merchant.
create table gw.psp_fetch_usage (
  merchant_id   text primary key references gw.merchants (id),
  window_start  timestamptz not null,
  window_calls  int not null check (window_calls >= 0),
  total_calls   bigint not null check (total_calls >= 0)
);

-- Takes up to `wanted` PSP reads for the merchant in the window starting at `window_start`, at most
-- `per_window` in that window; returns how many were granted (0 when the window is used up). A later window
-- starts the count again; an earlier one (a process whose clock is behind) counts in the stored one.
create function gw.take_psp_fetch_calls(merchant text, window_start timestamptz, wanted int, per_window int)
returns int
language plpgsql as $$
declare
  stored timestamptz;
  used int;
  granted int;
begin
  insert into gw.psp_fetch_usage as u (merchant_id, window_start, window_calls, total_calls)
  values (merchant, take_psp_fetch_calls.window_start, 0, 0)
  on conflict (merchant_id) do nothing;
  select u.window_start, u.window_calls
    into stored, used
    from gw.psp_fetch_usage u
   where u.merchant_id = merchant
     for update;
  if take_psp_fetch_calls.window_start > stored then
    stored := take_psp_fetch_calls.window_start;
    used := 0;
  end if;
  granted := greatest(0, least(wanted, per_window - used));
  update gw.psp_fetch_usage u
     set window_start = stored,
         window_calls = used + granted,
         total_calls  = u.total_calls + granted
   where u.merchant_id = merchant;
  return granted;
end;
$$;
