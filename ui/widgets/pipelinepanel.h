// The editable pipeline: stage list (add, remove, reorder, toggle), a
// parameter form for the selected stage, presets, JSON load/save and "Paste
// from torchvision". Emits the new stage JSON after every valid edit.
//
// An editor is never destroyed while its own signal runs: a parameter edit
// updates the JSON and the list text in place; the form is rebuilt only when
// another stage is selected or the stages change, and old editors are
// deleted later (deleteLater), disconnected first.
#pragma once

#include <QWidget>

#include <string>

class QComboBox;
class QFormLayout;
class QLabel;
class QListWidget;
class QWidget;

namespace bs::ui {

class PipelinePanel : public QWidget {
    Q_OBJECT
public:
    explicit PipelinePanel(QWidget* parent = nullptr);

    // Stage JSON array (with "enabled": false on toggled-off stages).
    std::string pipelineJson() const;
    // Replaces the stages; returns false (and shows why) when invalid.
    bool setJson(const std::string& json);
    bool setText(const std::string& jsonOrTorchvision, QString* error = nullptr);
    void applyPreset(const QString& name);
    static QStringList presetNames();
    static std::string presetText(const QString& name);
    // Says where the pipeline came from ("demo-pipeline.json beside the
    // dataset", "preset ..."), shown above the stages until the next edit.
    void setOrigin(const QString& origin);
    QString origin() const;
    // Inserts a stage with torchvision's required parameters after the
    // selected one (as "+ Add" does).
    void addStage(const QString& op);
    // Selects the stage shown (transform index, -1 = none) without emitting
    // stageSelected: the caller already shows it.
    void selectStage(int stage);
    // Marks the stage a finding blames (transform index, -1 = none). Drawn
    // apart from the selection: a warning sign, red bold text.
    void markCulprit(int stage);
    int culpritStage() const { return culprit_; }
    void showError(const QString& message);
    int stageCount() const;
    QListWidget* list() const { return list_; }
    // Reads a pipeline file; false (and a one-line error naming the file)
    // when it cannot be read or parsed.
    bool loadPipelineFile(const QString& path);
    // A one-line, human message for a pipeline parse error: nlohmann's
    // "[json.exception.parse_error.101] parse error at line 1, column 2:
    // syntax error while parsing value - invalid literal" becomes
    // "not valid JSON at line 1, column 2: invalid literal".
    static QString humanError(const QString& raw);

public Q_SLOTS:
    void loadFile();
    void saveFile();
    void pasteTorchvision();

Q_SIGNALS:
    // A whole new pipeline (pasted, loaded, a preset), before its
    // pipelineChanged: stages picked for the old one mean nothing now.
    void pipelineReplaced();
    void pipelineChanged();
    // The user selected stage `stage` (transform index) in the list.
    void stageSelected(int stage);

private:
    void rebuildList(int select);
    void rebuildForm();
    void clearForm();
    QWidget* makeEditor(int row, const std::string& key, const std::string& valueJson);
    void editKey(int row, const std::string& key, const std::string& valueJson);
    void refreshItem(int row);
    bool validate();
    void markEdited();
    void commit(int select);
    void move(int delta);

    struct Stage;
    std::vector<std::string> stagesJson_;  // one JSON object text per stage
    QListWidget* list_;
    QWidget* form_;
    QFormLayout* formLayout_;
    QLabel* error_;
    QLabel* origin_;
    QComboBox* presets_;
    int culprit_ = -1;
    bool updating_ = false;
};

}  // namespace bs::ui
