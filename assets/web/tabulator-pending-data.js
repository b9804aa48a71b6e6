// Panel 1.9.4's Tabulator drops new rows that arrive while the table is being built: its setData() returns
// at once while the view is initializing, and tableBuilt() never applies them. A table drawn (or redrawn,
// e.g. when its card opens) just as the server sends its rows kept showing no rows, under the right count
// ("1 dandisets found" above an empty table). Here such rows are remembered and applied once it is built.
// Panel's models register after this script runs: it waits for them (the prototype serves views made before).
(function install(tries) {
  let model;
  try {
    model = Bokeh.Models.get("panel.models.tabulator.DataTabulator");
  } catch (_unknown) {
    model = undefined; // BokehJS throws for a model not registered yet
  }
  if (model == null || model.prototype.default_view == null) {
    if (tries > 0) {
      setTimeout(() => install(tries - 1), 20);
    }
    return;
  }
  const view = model.prototype.default_view.prototype;
  if (view._ndKeepsPendingData) {
    return;
  }
  view._ndKeepsPendingData = true;
  const setData = view.setData;
  const tableBuilt = view.tableBuilt;
  view.setData = function () {
    if (this._initializing || this._building || this.tabulator == null || !this.tabulator.initialized) {
      this._ndDataPending = true;
    }
    return setData.call(this);
  };
  view.tableBuilt = function () {
    tableBuilt.call(this);
    if (this._ndDataPending) {
      this._ndDataPending = false;
      setTimeout(() => {
        void this.setData().then(() => this.setSelection());
      }, 0);
    }
  };
})(1500);
