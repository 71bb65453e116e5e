// Announcements (maintenance, incidents): times shown in the viewer's own time zone, and
// banners that can be dismissed (remembered in this browser until something new is said).
(function () {
  'use strict';
  var format = new Intl.DateTimeFormat(undefined, {
    weekday: 'short', year: 'numeric', month: 'short', day: 'numeric',
    hour: '2-digit', minute: '2-digit', timeZoneName: 'short'
  });
  function localTimes(root) {
    root.querySelectorAll('time[data-local]').forEach(function (el) {
      var when = new Date(el.getAttribute('datetime'));
      if (!isNaN(when.getTime())) {
        el.textContent = format.format(when);
        el.title = el.getAttribute('datetime');
      }
    });
  }
  function dismissible(root) {
    root.querySelectorAll('[data-notice-id]').forEach(function (banner) {
      var key = 'skjold.dismissed.' + banner.getAttribute('data-notice-id');
      try {
        if (window.localStorage.getItem(key)) { banner.hidden = true; return; }
      } catch (e) { /* storage off: the banner stays */ }
      var button = banner.querySelector('button[data-dismiss]');
      if (!button) return;
      button.hidden = false;
      button.addEventListener('click', function () {
        banner.hidden = true;
        try { window.localStorage.setItem(key, '1'); } catch (e) { /* nothing to keep it in */ }
      });
    });
  }
  function start() { localTimes(document); dismissible(document); }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
