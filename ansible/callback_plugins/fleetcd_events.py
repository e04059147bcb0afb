# Copyright: fleetcd contributors
# Apache-2.0
"""fleetcd_events: one JSON object per line on the pipe fleetcd hands us (fd in FLEETCD_EVENT_FD).

The human log stays with the normal stdout callback; this notification callback is the machine-readable
side channel the runner parses into run events, drift items and per-host stats.
"""

DOCUMENTATION = '''
    name: fleetcd_events
    type: notification
    short_description: stream structured run events to fleetcd
    description:
      - Writes one JSON object per line to the file descriptor named by the environment variable FLEETCD_EVENT_FD.
      - Writes nothing when FLEETCD_EVENT_FD is not set.
    requirements:
      - enable in configuration (ANSIBLE_CALLBACKS_ENABLED=fleetcd_events)
'''

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DIFF_LIMIT = 65536
STDERR_TAIL = 2000
DIFF_KEYS = ('before', 'after', 'before_header', 'after_header', 'prepared')


def _open_event_stream():
    """The writable text stream on FLEETCD_EVENT_FD, or None when unset or unusable."""
    raw = os.environ.get('FLEETCD_EVENT_FD')
    if not raw:
        return None
    try:
        fd = int(raw)
        # Children (ssh, ControlPersist masters, local modules) must not keep our pipe open.
        os.set_inheritable(fd, False)
        return os.fdopen(fd, 'w', buffering=1, encoding='utf-8', errors='backslashreplace')
    except (ValueError, OSError):
        return None


def _text_or_none(value):
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _cut(value):
    """(value, truncated): strings longer than DIFF_LIMIT are cut; other values are cut as their JSON text."""
    if value is None:
        return None, False
    if not isinstance(value, str):
        try:
            text = json.dumps(value, default=str, sort_keys=True)
        except (TypeError, ValueError):
            text = str(value)
        if len(text) <= DIFF_LIMIT:
            return value, False
        value = text
    if len(value) <= DIFF_LIMIT:
        return value, False
    return value[:DIFF_LIMIT], True


def _diff_entry(raw):
    if not isinstance(raw, dict) or not raw:
        return None
    entry = {}
    truncated = False
    for key in DIFF_KEYS:
        value, cut = _cut(raw.get(key))
        entry[key] = value
        truncated = truncated or cut
    if truncated:
        entry['truncated'] = True
    return entry


def _diff_list(raw):
    """result['diff'] (a dict or a list of dicts) as a list of entries, or None when there is nothing."""
    if raw is None:
        return None
    items = raw if isinstance(raw, (list, tuple)) else [raw]
    entries = [e for e in (_diff_entry(item) for item in items) if e is not None]
    return entries or None


def _is_censored(res, task):
    if not isinstance(res, dict):
        return False
    no_log = getattr(task, 'no_log', False)
    return bool(res.get('_ansible_no_log')) or 'censored' in res or (isinstance(no_log, bool) and no_log)


def _check_mode_value(task):
    value = getattr(task, 'check_mode', None)
    if value is None or isinstance(value, bool):
        return value
    return str(value)


def _rescued(task):
    """True when a failure of this task is handled by the rescue section of an enclosing block.

    Ansible counts such a failure as `rescued` in its stats but does not say so on the result; tasks are
    copied per host, so membership is decided by uuid, walking up through nested blocks.
    """
    child, parent = task, getattr(task, '_parent', None)
    while parent is not None:
        body = getattr(parent, 'block', None) or []
        if getattr(parent, 'rescue', None) and any(getattr(t, '_uuid', None) == child._uuid for t in body):
            return True
        child, parent = parent, getattr(parent, '_parent', None)
    return False


def _task_info(task):
    return {
        'task': (task.get_name() or '').strip(),
        'action': task.action,
        'path': task.get_path(),
        'uuid': task._uuid,
    }


class CallbackModule(CallbackBase):
    """Structured events for fleetcd; never lets its own problems fail the playbook."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'notification'
    CALLBACK_NAME = 'fleetcd_events'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None, options=None):
        super(CallbackModule, self).__init__(display=display, options=options)
        self._stream = _open_event_stream()
        self._task_started = {}

    # -- output -------------------------------------------------------------------------------------

    def _emit(self, event):
        if self._stream is None:
            return
        try:
            line = json.dumps(event, default=str, ensure_ascii=True)
        except (TypeError, ValueError) as e:
            line = json.dumps({'event': event.get('event'), 'encoding_error': str(e)}, default=str)
        try:
            self._stream.write(line + '\n')
            self._stream.flush()
        except (OSError, ValueError):
            # The reader went away: stop writing, let the playbook finish.
            self._stream = None

    # -- playbook / play / task ---------------------------------------------------------------------

    def v2_playbook_on_start(self, playbook):
        self._emit({'event': 'playbook_start', 'playbook': getattr(playbook, '_file_name', None)})

    def v2_playbook_on_play_start(self, play):
        self._emit({'event': 'play_start', 'play': (play.get_name() or '').strip()})

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task_start(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._task_start(task)

    def _task_start(self, task):
        self._task_started[task._uuid] = time.time()
        event = {'event': 'task_start'}
        event.update(_task_info(task))
        event['check_mode'] = _check_mode_value(task)
        self._emit(event)

    # -- results ------------------------------------------------------------------------------------

    def v2_runner_on_ok(self, result):
        self._result_event('changed' if self._changed(result) else 'ok', result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result_event('failed', result, ignored=bool(ignore_errors))

    def v2_runner_on_skipped(self, result):
        self._result_event('skipped', result)

    def v2_runner_on_unreachable(self, result):
        self._result_event('unreachable', result)

    # Loop items are not sent one by one: the task's final result carries every item's diff (see _diff_of).

    @staticmethod
    def _changed(result):
        res = result._result
        return isinstance(res, dict) and bool(res.get('changed', False))

    def _result_event(self, kind, result, ignored=False):
        try:
            event = self._build_result_event(kind, result, ignored)
        except Exception as e:  # never fail the run because of us
            event = {'event': kind, 'host': _text_or_none(getattr(result, '_host', None)), 'build_error': str(e)}
        self._emit(event)

    def _build_result_event(self, kind, result, ignored):
        task = result._task
        res = result._result if isinstance(result._result, dict) else {}
        started = self._task_started.get(task._uuid)
        censored = _is_censored(res, task)
        event = {'event': kind, 'host': result._host.get_name()}
        event.update(_task_info(task))
        event['task'] = (result.task_name or event['task'] or '').strip()
        event.update({
            'duration': round(time.time() - started, 3) if started is not None else None,
            'ignored': bool(ignored) if kind == 'failed' else False,
            'rescued': kind == 'failed' and not ignored and _rescued(task),
            'msg': None,
            'skip_reason': None,
            'diff': None,
            'censored': censored,
        })
        if censored:
            return event
        event['msg'] = _text_or_none(res.get('msg'))
        if kind == 'skipped':
            event['skip_reason'] = _text_or_none(res.get('skip_reason') or res.get('msg'))
        event['diff'] = self._diff_of(res)
        stderr = res.get('stderr') if kind == 'failed' else None
        if isinstance(stderr, str) and stderr:
            event['stderr'] = stderr[-STDERR_TAIL:]
        return event

    def _diff_of(self, res):
        if 'diff' in res:
            return _diff_list(res['diff'])
        # A loop's final result carries its diffs per item.
        results = res.get('results')
        if not isinstance(results, list):
            return None
        entries = []
        for item in results:
            if isinstance(item, dict) and not item.get('_ansible_no_log') and 'censored' not in item:
                entries.extend(_diff_list(item.get('diff')) or [])
        return entries or None

    # -- stats --------------------------------------------------------------------------------------

    def v2_playbook_on_stats(self, stats):
        hosts = {}
        for host in sorted(stats.processed.keys()):
            s = stats.summarize(host)
            hosts[host] = {
                'ok': s.get('ok', 0),
                'changed': s.get('changed', 0),
                'failures': s.get('failures', 0),
                'unreachable': s.get('unreachable', 0),
                'skipped': s.get('skipped', 0),
                'rescued': s.get('rescued', 0),
                'ignored': s.get('ignored', 0),
            }
        self._emit({'event': 'stats', 'hosts': hosts})
