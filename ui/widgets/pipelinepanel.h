// The editable pipeline: stage list (add, remove, reorder, toggle), a
// parameter form for the selected stage, presets, JSON load/save and "Paste
// from torchvision". Emits the new stage JSON after every valid edit.
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
    // Highlights a stage (transform index), e.g. the one a finding blames.
    void highlightStage(int stage);
    void showError(const QString& message);
    int stageCount() const;
    QListWidget* list() const { return list_; }

public Q_SLOTS:
    void loadFile();
    void saveFile();
    void pasteTorchvision();

Q_SIGNALS:
    void pipelineChanged();

private:
    void rebuildList(int select);
    void rebuildForm();
    void commit(int select);
    void addStage(const QString& op);
    void move(int delta);

    struct Stage;
    std::vector<std::string> stagesJson_;  // one JSON object text per stage
    QListWidget* list_;
    QWidget* form_;
    QFormLayout* formLayout_;
    QLabel* error_;
    QComboBox* presets_;
    bool updating_ = false;
};

}  // namespace bs::ui
